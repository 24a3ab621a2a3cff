import { type FailureReason, isNonRetryable } from './errors.ts';

/** Backoff delays are capped so that a high attempt number cannot wait for days. */
export const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Delay before attempt `nextAttempt` (2 for the first retry): exponential from `baseMs`, with full
 * jitter (a uniform draw in [0, base * 2^(retry-1)]) so that workers failing together do not retry in
 * lockstep.
 */
export function backoffDelay(
  baseMs: number,
  nextAttempt: number,
  random: () => number = Math.random,
): number {
  if (baseMs <= 0) return 0;
  const retry = Math.max(1, nextAttempt - 1);
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(retry - 1, 30));
  return Math.round(random() * ceiling);
}

/**
 * Whether a failed attempt gets another: not for `load` (it would fail the same way) or `aborted`
 * (nobody wants it any more), not for an error marked `retryable: false`, and not past `maxRetries`.
 */
export function shouldRetry(
  reason: FailureReason,
  error: unknown,
  attempt: number,
  maxRetries: number,
): boolean {
  if (reason === 'load' || reason === 'aborted') return false;
  return !isNonRetryable(error) && attempt <= maxRetries;
}
