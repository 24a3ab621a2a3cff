import type { BreakerState } from './types.ts';

/**
 * The circuit breaker of one worker: pure state, no timers. The orchestrator asks it what to do and arms
 * the cooldown timer itself, so the logic is testable without a clock.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #consecutiveFailures = 0;
  #trialInFlight = false;
  readonly #maxConsecutiveFailures: number;
  readonly #cooldownMs: number | null;

  constructor(maxConsecutiveFailures: number, cooldownSeconds: number | null) {
    this.#maxConsecutiveFailures = maxConsecutiveFailures;
    this.#cooldownMs = cooldownSeconds === null ? null : cooldownSeconds * 1000;
  }

  get state(): BreakerState {
    return this.#state;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Milliseconds from opening to the half-open trial, or null when only `enableWorker()` closes it. */
  get cooldownMs(): number | null {
    return this.#cooldownMs;
  }

  /** Whether a run may start now: not open, and in half-open only the one trial. */
  canStart(): boolean {
    if (this.#state === 'open') return false;
    if (this.#state === 'half-open') return !this.#trialInFlight;
    return true;
  }

  /** A run started; in half-open it is the trial. */
  onRunStart(): void {
    if (this.#state === 'half-open') this.#trialInFlight = true;
  }

  /** A run succeeded: the breaker closes. */
  onSuccess(): void {
    this.#consecutiveFailures = 0;
    this.#state = 'closed';
    this.#trialInFlight = false;
  }

  /**
   * A run failed (reason other than `aborted`). Returns true when this failure opened the breaker
   * (from closed at the threshold, or a failed half-open trial).
   */
  onFailure(): boolean {
    this.#consecutiveFailures++;
    if (this.#state === 'half-open') {
      this.#state = 'open';
      this.#trialInFlight = false;
      return true;
    }
    if (this.#state === 'closed' && this.#consecutiveFailures >= this.#maxConsecutiveFailures) {
      this.#state = 'open';
      return true;
    }
    return false;
  }

  /** An aborted half-open trial does not count: another trial may start. */
  onAborted(): void {
    if (this.#state === 'half-open') this.#trialInFlight = false;
  }

  /** The cooldown passed: allow one trial. */
  halfOpen(): void {
    if (this.#state === 'open') {
      this.#state = 'half-open';
      this.#trialInFlight = false;
    }
  }

  /** `enableWorker()`: closed, failures forgotten. */
  reset(): void {
    this.#state = 'closed';
    this.#consecutiveFailures = 0;
    this.#trialInFlight = false;
  }
}
