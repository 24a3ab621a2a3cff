import type { BreakerState } from './types.ts';

/**
 * The circuit breaker of one worker: pure state, no timers. The orchestrator asks it what to do and arms
 * the cooldown timer itself, so the logic is testable without a clock.
 *
 * While the breaker is not closed, only the half-open trial decides its state: a run that was already
 * in flight when it opened (a straggler, with `concurrency` > 1) neither closes nor re-opens it.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #consecutiveFailures = 0;
  #trialInFlight = false;
  #maxConsecutiveFailures: number;
  #cooldownMs: number | null;

  constructor(maxConsecutiveFailures: number, cooldownSeconds: number | null) {
    this.#maxConsecutiveFailures = maxConsecutiveFailures;
    this.#cooldownMs = cooldownSeconds === null ? null : cooldownSeconds * 1000;
  }

  /** New thresholds (a cluster's latest registration); the state stays as it is. */
  configure(maxConsecutiveFailures: number, cooldownSeconds: number | null): void {
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

  /** A run started. Returns true when it is the half-open trial. */
  onRunStart(): boolean {
    if (this.#state !== 'half-open') return false;
    this.#trialInFlight = true;
    return true;
  }

  /** A run succeeded. Returns true when this closed the breaker (a successful trial). */
  onSuccess(isTrial: boolean): boolean {
    if (this.#state === 'closed') {
      this.#consecutiveFailures = 0;
      return false;
    }
    if (!isTrial) return false;
    this.reset();
    return true;
  }

  /**
   * A run failed (any reason but `aborted`). Returns true when this failure opened the breaker: the
   * threshold reached while closed, or a failed trial.
   */
  onFailure(isTrial: boolean): boolean {
    if (this.#state === 'closed') {
      this.#consecutiveFailures++;
      if (this.#consecutiveFailures < this.#maxConsecutiveFailures) return false;
      this.#state = 'open';
      return true;
    }
    if (!isTrial) return false;
    this.#consecutiveFailures++;
    this.#state = 'open';
    this.#trialInFlight = false;
    return true;
  }

  /** An aborted trial does not count: another trial may start. */
  onAborted(isTrial: boolean): void {
    if (isTrial && this.#state === 'half-open') this.#trialInFlight = false;
  }

  /** The cooldown passed: allow one trial. */
  halfOpen(): void {
    if (this.#state === 'open') {
      this.#state = 'half-open';
      this.#trialInFlight = false;
    }
  }

  /** Takes a state kept by a durable store; a trial in progress when the host died counts as open. */
  restore(state: BreakerState, consecutiveFailures: number): void {
    this.#state = state === 'half-open' ? 'open' : state;
    this.#consecutiveFailures = consecutiveFailures;
    this.#trialInFlight = false;
  }

  /** `enableWorker()`: closed, failures forgotten. */
  reset(): void {
    this.#state = 'closed';
    this.#consecutiveFailures = 0;
    this.#trialInFlight = false;
  }
}
