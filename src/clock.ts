/** Time as the orchestrator sees it; injected so that schedule, breaker and retry tests are exact. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque; a system-clock handle also has `unref()`. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout | number | LongTimer;

// Node's setTimeout fires after 1 ms for delays past 2^31-1 ms (about 24.8 days); longer waits are
// chained through intermediate timers.
const MAX_TIMER_MS = 2_147_483_647;

/** A wait longer than one Node timer can hold. */
class LongTimer {
  #timer: NodeJS.Timeout;
  #unref = false;

  constructor(fn: () => void, ms: number) {
    const due = Date.now() + ms;
    const arm = (): NodeJS.Timeout => {
      const left = due - Date.now();
      const timer = setTimeout(
        () => {
          if (left > MAX_TIMER_MS) this.#timer = arm();
          else fn();
        },
        Math.min(left, MAX_TIMER_MS),
      );
      if (this.#unref) timer.unref();
      return timer;
    };
    this.#timer = arm();
  }

  unref(): this {
    this.#unref = true;
    this.#timer.unref();
    return this;
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new LongTimer(fn, ms) : setTimeout(fn, Math.max(0, ms))),
  clearTimeout: (handle) => {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as NodeJS.Timeout);
  },
};
