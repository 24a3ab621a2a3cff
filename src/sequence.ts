/**
 * The orchestrator's one counter: run enqueue order and dependency freshness (a worker's last start
 * and last success) are compared by these numbers, never by clock times, so ties cannot happen.
 */
export class Sequence {
  #value = 0;

  next(): number {
    return ++this.#value;
  }

  /** Numbers handed out from now on are above `value` (runs taken back from a store). */
  atLeast(value: number): void {
    if (value > this.#value) this.#value = value;
  }
}
