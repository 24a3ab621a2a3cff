import type { FailureReason } from '../errors.ts';
import type { RunOutcome } from '../run.ts';

/**
 * How an outcome crosses Redis. A success is stored as BullMQ's return value, wrapped so that
 * `undefined` survives JSON; a final failure is stored as the failed reason, a JSON text, so that the
 * reason, attempts and error reach the caller's host in the same event that says the job failed.
 */
export interface EncodedFailure {
  corral: 1;
  reason: FailureReason;
  error: string;
  attempts: number;
  failedAt: string;
  /** A requested run: a dead letter. */
  requested: boolean;
}

export function encodeResult(value: unknown): { v?: unknown } {
  return value === undefined ? {} : { v: value };
}

export function decodeResult(returnvalue: unknown): unknown {
  if (typeof returnvalue === 'object' && returnvalue !== null && 'v' in returnvalue) {
    return (returnvalue as { v: unknown }).v;
  }
  return undefined;
}

export function decodeFailure(failedReason: string | undefined): EncodedFailure | undefined {
  if (failedReason === undefined || !failedReason.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(failedReason) as Partial<EncodedFailure>;
    return parsed.corral === 1 ? (parsed as EncodedFailure) : undefined;
  } catch {
    return undefined;
  }
}

/** The error a caller sees: the message the worker's error had where it ran. */
export function failureOutcome(failure: EncodedFailure): RunOutcome {
  return { ok: false, reason: failure.reason, error: new Error(failure.error), attempts: failure.attempts };
}

/**
 * The error handed to BullMQ's `moveToFailed` for a run that will not be retried: named
 * `UnrecoverableError`, which BullMQ never retries, so corral's retry decision (not BullMQ's attempts
 * count) is the one that holds.
 */
export function finalError(failure: EncodedFailure): Error {
  const error = new Error(JSON.stringify(failure));
  error.name = 'UnrecoverableError';
  return error;
}
