import type { Clock, TimerHandle } from '../clock.ts';
import { Heap } from './heap.ts';

interface Entry<K> {
  at: number;
  key: K;
}

/**
 * Due times of many keys behind one timer. Re-scheduling a key replaces its entry in a map and leaves
 * the old heap entry to be skipped when it surfaces, so there is no O(n) scan or removal: 100,000 idle
 * workers cost one heap entry and one map entry each, and one timer in all.
 */
export class TimerQueue<K> {
  readonly #heap = new Heap<Entry<K>>((a, b) => a.at < b.at);
  /** The live entry of each scheduled key; a heap entry not found here is stale. */
  readonly #live = new Map<K, Entry<K>>();
  readonly #clock: Clock;
  readonly #onDue: (key: K) => void;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #active = false;

  constructor(clock: Clock, onDue: (key: K) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /** Due time of `key`, if scheduled. */
  dueAt(key: K): number | undefined {
    return this.#live.get(key)?.at;
  }

  /** (Re)schedules `key` at `at` (epoch ms), replacing any earlier time. */
  schedule(key: K, at: number): void {
    const entry = { at, key };
    this.#live.set(key, entry);
    this.#heap.push(entry);
    if (this.#active && at < this.#timerAt) this.#arm();
  }

  cancel(key: K): void {
    this.#live.delete(key);
  }

  /** Starts firing due keys. */
  start(): void {
    this.#active = true;
    this.#arm();
  }

  /** Stops firing; schedules are kept. */
  pause(): void {
    this.#active = false;
    this.#disarm();
  }

  clear(): void {
    this.pause();
    this.#heap.clear();
    this.#live.clear();
  }

  #isLive(entry: Entry<K>): boolean {
    return this.#live.get(entry.key) === entry;
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    this.#disarm();
    let top = this.#heap.peek();
    while (top !== undefined && !this.#isLive(top)) {
      this.#heap.pop();
      top = this.#heap.peek();
    }
    if (top === undefined || !this.#active) return;
    this.#timerAt = top.at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), top.at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now) break;
      this.#heap.pop();
      if (!this.#isLive(top)) continue;
      this.#live.delete(top.key);
      this.#onDue(top.key);
      if (!this.#active) return;
    }
    this.#arm();
  }
}
