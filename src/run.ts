import type { Attempt } from './attempt.ts';
import type { FailureReason } from './errors.ts';
import type { WorkerRecord } from './worker-record.ts';

/** Why a run exists: its schedule, a continuous loop, its pipeline, or a request. */
export type RunOrigin = 'schedule' | 'continuous' | 'trigger' | 'run' | 'pipeline' | 'replay';

/** What each kind of run is: the one table every module asks (see docs/architecture.md). */
export interface OriginTraits {
  /** Kept by a durable store until it is over (a schedule is recomputed from the stored last run). */
  readonly stored: boolean;
  /**
   * Waits in the worker's own FIFO (schedule, loop, pipeline) rather than with the requests: the two
   * are kept apart so a request can start while a scheduled run ahead of it waits for its dependencies.
   */
  readonly ownQueue: boolean;
  /** Starts only once every dependency has succeeded since the worker's last run started. */
  readonly needsFreshDeps: boolean;
  /** A caller asked for it: dead-lettered when it fails after its last attempt. */
  readonly requested: boolean;
  /** Counted in `StopReport.dropped` when a stop finds it still waiting (and no store keeps it). */
  readonly droppedByStop: boolean;
}

export const ORIGINS = {
  schedule: { stored: false, ownQueue: true, needsFreshDeps: true, requested: false, droppedByStop: false },
  continuous: { stored: false, ownQueue: true, needsFreshDeps: true, requested: false, droppedByStop: false },
  // A pipeline run is recomputed from its dependencies' successes, so a stop does not count it dropped.
  pipeline: { stored: true, ownQueue: true, needsFreshDeps: true, requested: true, droppedByStop: false },
  trigger: { stored: true, ownQueue: false, needsFreshDeps: false, requested: true, droppedByStop: true },
  run: { stored: true, ownQueue: false, needsFreshDeps: false, requested: true, droppedByStop: true },
  replay: { stored: true, ownQueue: false, needsFreshDeps: false, requested: true, droppedByStop: true },
} as const satisfies Record<RunOrigin, OriginTraits>;

/** The origins a durable store keeps. */
export type StoredOrigin = {
  [O in RunOrigin]: (typeof ORIGINS)[O]['stored'] extends true ? O : never;
}[RunOrigin];

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
  /** Cancels the pending retry of a run waiting out its backoff (set by the queue). */
  cancelBackoff: (() => void) | undefined;
  /** This run is its worker's half-open trial: only its outcome moves the breaker. */
  isTrial: boolean;
  /** Cancellation asked for at a moment no attempt was running (between attempts): honoured next. */
  abortError: Error | undefined;
  /** The dead letter this run replays, if any. */
  replayOf: string | undefined;
  /** Tells the requester how the run ended. */
  settle: ((outcome: RunOutcome) => void) | undefined;
  /** Tells the requester the run could not be queued after all (cluster mode: found out later). */
  refuse: ((error: Error) => void) | undefined;
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

/** A queued run with everything not given at its start value: the one place a Run is put together. */
export function newRun(
  fields: Pick<Run, 'id' | 'worker' | 'payload' | 'origin' | 'seq' | 'startedAt' | 'enqueuedAt'> &
    Partial<Pick<Run, 'replayOf' | 'settle' | 'refuse' | 'key' | 'attempt'>>,
): Run {
  return {
    attempt: 0,
    state: 'queued',
    queued: false,
    current: undefined,
    cancelBackoff: undefined,
    isTrial: false,
    abortError: undefined,
    replayOf: undefined,
    settle: undefined,
    refuse: undefined,
    detachSignal: undefined,
    joined: undefined,
    key: undefined,
    kept: false,
    ...fields,
  };
}
