import type { Attempt } from './attempt.ts';
import type { TimerHandle } from './clock.ts';
import type { FailureReason } from './errors.ts';
import type { WorkerRecord } from './worker-record.ts';

/** Why a run exists: its schedule, a continuous loop, or a request (which is dead-lettered on failure). */
export type RunOrigin = 'schedule' | 'continuous' | 'trigger' | 'run' | 'pipeline' | 'replay';

export type RunOutcome =
  | { ok: true; value: unknown }
  | { ok: false; reason: FailureReason; error: Error; attempts: number };

/** One run of a worker: queued, then one or more attempts, then settled once. */
export interface Run {
  readonly id: string;
  readonly worker: WorkerRecord;
  readonly payload: unknown;
  readonly origin: RunOrigin;
  /** Enqueue order: within a priority, the lowest waits longest. */
  readonly seq: number;
  /** Attempts started so far. */
  attempt: number;
  state: 'queued' | 'running' | 'backoff' | 'retry-ready' | 'done';
  /** Part of a RunQueue (see run-queue.ts). */
  queued: boolean;
  current: Attempt | undefined;
  backoffTimer: TimerHandle | undefined;
  /** This run is its worker's half-open trial: only its outcome moves the breaker. */
  isTrial: boolean;
  /** Cancellation asked for at a moment no attempt was running (between attempts): honoured next. */
  abortError: Error | undefined;
  /** The dead letter this run replays, if any. */
  replayOf: string | undefined;
  /** Tells the requester how the run ended. */
  settle: ((outcome: RunOutcome) => void) | undefined;
  /** Detaches the caller's AbortSignal listener. */
  detachSignal: (() => void) | undefined;
  /** Other callers that joined this run with the same `key`. */
  joined: ((outcome: RunOutcome) => void)[] | undefined;
  key: string | undefined;
  /** Epoch ms of the first attempt's start (for the history). */
  startedAt: number;
  /** Epoch ms when it was queued (kept by a durable store). */
  enqueuedAt: number;
  /** Kept by the durable store for the next start instead of being settled as over. */
  kept: boolean;
}

/** Runs a durable store keeps: the requested ones (a schedule is recomputed from the stored last run). */
export function isStored(origin: RunOrigin): origin is 'trigger' | 'run' | 'pipeline' | 'replay' {
  return origin !== 'schedule' && origin !== 'continuous';
}

/** Requested runs are dead-lettered when they fail; scheduled and continuous ones feed status and breaker. */
export function isRequested(origin: RunOrigin): boolean {
  return origin !== 'schedule' && origin !== 'continuous';
}

/** A queued run with everything not given at its start value: the one place a Run is put together. */
export function newRun(
  fields: Pick<Run, 'id' | 'worker' | 'payload' | 'origin' | 'seq' | 'startedAt' | 'enqueuedAt'> &
    Partial<Pick<Run, 'replayOf' | 'settle' | 'key'>>,
): Run {
  return {
    attempt: 0,
    state: 'queued',
    queued: false,
    current: undefined,
    backoffTimer: undefined,
    isTrial: false,
    abortError: undefined,
    replayOf: undefined,
    settle: undefined,
    detachSignal: undefined,
    joined: undefined,
    key: undefined,
    kept: false,
    ...fields,
  };
}
