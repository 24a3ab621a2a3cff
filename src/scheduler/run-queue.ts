/**
 * A FIFO of waiting items with O(1) removal from anywhere. A removed item is flagged and skipped when it
 * reaches the head; the array is compacted once flagged items make up half of it, so that refused or
 * cancelled runs (and their payloads) are not kept alive behind a long-waiting head.
 */
export class RunQueue<T extends { queued: boolean }> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #size = 0;
  #flagged = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    item.queued = true;
    this.#items.push(item);
    this.#size++;
  }

  peek(): T | undefined {
    this.#skipFlagged();
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    this.#skipFlagged();
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head] = undefined;
    this.#head++;
    this.#size--;
    item.queued = false;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) this.#compact();
    return item;
  }

  /** Removes `item` if it is still waiting here. */
  remove(item: T): boolean {
    if (!item.queued) return false;
    item.queued = false;
    this.#size--;
    if (this.#items[this.#items.length - 1] === item) {
      this.#items.pop();
    } else {
      this.#flagged++;
      if (this.#flagged > 64 && this.#flagged * 2 > this.#items.length - this.#head) this.#compact();
    }
    return true;
  }

  /** Takes every waiting item out, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    this.#items = [];
    this.#head = 0;
    this.#flagged = 0;
    return out;
  }

  #skipFlagged(): void {
    const items = this.#items;
    while (this.#head < items.length) {
      const item = items[this.#head];
      if (item?.queued) return;
      if (item !== undefined) this.#flagged--;
      items[this.#head] = undefined;
      this.#head++;
    }
  }

  #compact(): void {
    const kept: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item?.queued) kept.push(item);
    }
    this.#items = kept;
    this.#head = 0;
    this.#flagged = 0;
  }
}
