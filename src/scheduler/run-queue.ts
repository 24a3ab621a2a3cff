/** A FIFO of waiting items with O(1) removal from anywhere (removed items are skipped lazily). */
export class RunQueue<T extends { queued: boolean }> {
  #items: T[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    item.queued = true;
    this.#items.push(item);
    this.#size++;
  }

  peek(): T | undefined {
    this.#skipRemoved();
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    this.#skipRemoved();
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head] = undefined as unknown as T;
    this.#head++;
    this.#size--;
    item.queued = false;
    this.#compact();
    return item;
  }

  /** Removes `item` if it is still waiting here. */
  remove(item: T): boolean {
    if (!item.queued) return false;
    item.queued = false;
    this.#size--;
    return true;
  }

  /** Takes every waiting item out, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    this.#items = [];
    this.#head = 0;
    return out;
  }

  #skipRemoved(): void {
    while (this.#head < this.#items.length && !(this.#items[this.#head] as T).queued) {
      this.#items[this.#head] = undefined as unknown as T;
      this.#head++;
    }
    this.#compact();
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
