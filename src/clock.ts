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

/** One pending deadline of a `DeadlineList`; `cancel` it when what it guards is over. */
export interface Deadline {
  cancel(): void;
}

/** A node of one FIFO: its due time, what to call then, and its neighbours (null at the ends). */
class DeadlineEntry implements Deadline {
  prev: DeadlineEntry | null = null;
  next: DeadlineEntry | null = null;
  constructor(
    readonly owner: DeadlineList,
    readonly fifo: DeadlineFifo,
    readonly due: number,
    readonly fire: () => void,
  ) {}

  cancel(): void {
    this.owner.remove(this);
  }
}

/** The deadlines set with one duration: since time only moves forward, they fall due in the order added. */
class DeadlineFifo {
  head: DeadlineEntry | null = null;
  tail: DeadlineEntry | null = null;
  constructor(readonly ms: number) {}
}

const lists = new WeakMap<Clock, DeadlineList>();
const weakLists = new WeakMap<Clock, DeadlineList>();

/**
 * Deadlines on one clock without a timer each: one FIFO per distinct duration (all attempts of a worker
 * share their `timeoutSeconds`), O(1) to add and to cancel, and a single clock timer armed for the
 * earliest head. Cancelling the head does not re-arm: the timer fires early, finds nothing due and is
 * armed again for the new head, about once per duration under steady load instead of a timer set and
 * cleared per attempt. With nothing pending no timer is left, so it never holds the host open. A weak
 * list (`weak`) never does, its timer is unreferenced: it may stay armed while empty.
 */
export class DeadlineList {
  readonly #clock: Clock;
  readonly #weak: boolean;
  readonly #fifos = new Map<number, DeadlineFifo>();
  #size = 0;
  #timer: TimerHandle | undefined;
  #timerDue = 0;
  #firing = false;

  constructor(clock: Clock, weak = false) {
    this.#clock = clock;
    this.#weak = weak;
  }

  /** The list shared by everything on `clock`: pending deadlines keep the host alive. */
  static of(clock: Clock): DeadlineList {
    return shared(lists, clock, false);
  }

  /** The list shared by everything on `clock` whose deadlines must not keep the host alive. */
  static weak(clock: Clock): DeadlineList {
    return shared(weakLists, clock, true);
  }

  /** Deadlines pending (neither fired nor cancelled). */
  get size(): number {
    return this.#size;
  }

  /** Calls `fire` once `ms` have passed on the clock, unless cancelled before. */
  add(ms: number, fire: () => void): Deadline {
    let fifo = this.#fifos.get(ms);
    if (fifo === undefined) {
      fifo = new DeadlineFifo(ms);
      this.#fifos.set(ms, fifo);
    }
    const entry = new DeadlineEntry(this, fifo, this.#clock.now() + ms, fire);
    const tail = fifo.tail;
    if (tail === null) fifo.head = entry;
    else {
      tail.next = entry;
      entry.prev = tail;
    }
    fifo.tail = entry;
    this.#size++;
    if (!this.#firing && (this.#timer === undefined || entry.due < this.#timerDue)) this.#arm();
    return entry;
  }

  remove(entry: DeadlineEntry): void {
    const { fifo } = entry;
    // Already fired or cancelled: it is unlinked (no neighbours) and no longer any FIFO's head.
    if (entry.prev === null && fifo.head !== entry) return;
    if (entry.prev === null) fifo.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) fifo.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = null;
    entry.next = null;
    if (fifo.head === null) this.#fifos.delete(fifo.ms);
    this.#size--;
    // A weak list's timer holds nothing open: left armed, it spares a clear and a set when deadlines
    // come and go one at a time (an idle sandbox taken again at once).
    if (this.#size === 0 && this.#timer !== undefined && !this.#weak) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #earliest(): DeadlineEntry | undefined {
    let best: DeadlineEntry | undefined;
    for (const fifo of this.#fifos.values()) {
      const head = fifo.head as DeadlineEntry;
      if (best === undefined || head.due < best.due) best = head;
    }
    return best;
  }

  #arm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#earliest();
    if (next === undefined) return;
    this.#timerDue = next.due;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), next.due - this.#clock.now());
    if (this.#weak) (this.#timer as { unref?: () => void }).unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firing = true;
    try {
      for (;;) {
        const next = this.#earliest();
        if (next === undefined || next.due > this.#clock.now()) break;
        this.remove(next);
        next.fire();
      }
    } finally {
      this.#firing = false;
      this.#arm();
    }
  }
}

function shared(map: WeakMap<Clock, DeadlineList>, clock: Clock, weak: boolean): DeadlineList {
  let list = map.get(clock);
  if (list === undefined) {
    list = new DeadlineList(clock, weak);
    map.set(clock, list);
  }
  return list;
}
