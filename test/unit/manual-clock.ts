import type { Clock, TimerHandle } from '../../src/clock.ts';

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock whose time moves only when a test calls `advance(ms)`. Timers fire in due order (ties in the
 * order they were set); a timer set while advancing that falls due within the window fires too, at its
 * own due time (so `now()` inside a callback is that timer's due time).
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer>();
  /** How many times `setTimeout` was called. */
  setTimeoutCalls = 0;
  /** How many times `clearTimeout` was called. */
  clearTimeoutCalls = 0;

  constructor(start = Date.UTC(2024, 0, 1, 0, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.setTimeoutCalls++;
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + delay, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.clearTimeoutCalls++;
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  /** Timers set and neither fired nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  get nextDueAt(): number | undefined {
    return this.#earliest()?.at;
  }

  /** Moves time forward by `ms`, firing every timer due up to the new time, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(ms) needs ms >= 0, got ${ms}`);
    const target = this.#now + ms;
    for (;;) {
      const timer = this.#earliest();
      if (timer === undefined || timer.at > target) break;
      this.#timers.delete(timer.id);
      this.#now = Math.max(this.#now, timer.at);
      timer.fn();
    }
    this.#now = target;
  }

  /** Moves time to `at` (epoch ms), firing what falls due on the way. */
  advanceTo(at: number): void {
    this.advance(Math.max(0, at - this.#now));
  }

  /** Fires what is due now without moving time. */
  runDue(): void {
    this.advance(0);
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id))
        best = timer;
    }
    return best;
  }
}
