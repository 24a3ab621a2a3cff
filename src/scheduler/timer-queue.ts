import type { Clock, TimerHandle } from '../clock.ts';
import { Heap } from './heap.ts';

interface Entry<K> {
  at: number;
  key: K;
  token: number;
}

/**
 * Due times of many keys behind one timer. Re-scheduling a key invalidates its previous entry lazily
 * (a token per key), so there is no O(n) scan or removal: 100,000 idle workers cost one heap entry each.
 */
export class TimerQueue<K> {
  readonly #heap = new Heap<Entry<K>>((a, b) => a.at < b.at);
  readonly #tokens = new Map<K, number>();
  readonly #clock: Clock;
  readonly #onDue: (key: K) => void;
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #nextToken = 1;
  #active = false;

  constructor(clock: Clock, onDue: (key: K) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /** Due time of `key`, if scheduled. */
  dueAt(key: K): number | undefined {
    return this.#due.get(key);
  }

  readonly #due = new Map<K, number>();

  /** (Re)schedules `key` at `at` (epoch ms), replacing any earlier time. */
  schedule(key: K, at: number): void {
    const token = this.#nextToken++;
    this.#tokens.set(key, token);
    this.#due.set(key, at);
    this.#heap.push({ at, key, token });
    if (this.#active && at < this.#timerAt) this.#arm();
  }

  cancel(key: K): void {
    this.#tokens.delete(key);
    this.#due.delete(key);
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
    this.#tokens.clear();
    this.#due.clear();
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(): void {
    this.#disarm();
    let top = this.#heap.peek();
    while (top !== undefined && this.#tokens.get(top.key) !== top.token) {
      this.#heap.pop();
      top = this.#heap.peek();
    }
    if (top === undefined || !this.#active) return;
    this.#timerAt = top.at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), top.at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now) break;
      this.#heap.pop();
      if (this.#tokens.get(top.key) !== top.token) continue;
      this.#tokens.delete(top.key);
      this.#due.delete(top.key);
      this.#onDue(top.key);
      if (!this.#active) return;
    }
    this.#arm();
  }
}
