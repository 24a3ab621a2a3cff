/**
 * What a durable store keeps, and the small interface a store implements. The SQLite store
 * (sqlite.ts) is the one corral ships; another backend (Redis, Postgres) implements {@link Store}.
 */
import type { FailureReason } from '../errors.ts';
import type { BreakerState, DeadLetter, RunTotals } from '../types.ts';

/** A run waiting to start, or in flight (`attempts` > 0): kept until it is over. */
export interface StoredRun {
  id: string;
  /** Enqueue order across the orchestrator. */
  seq: number;
  worker: string;
  origin: 'trigger' | 'run' | 'pipeline' | 'replay';
  payload: unknown;
  priority: number;
  /** Epoch ms. */
  enqueuedAt: number;
  /** Attempts started so far (a run in flight when the host died has at least 1). */
  attempts: number;
  key: string | undefined;
  replayOf: string | undefined;
  /** The payload already serialized with v8.serialize, when the orchestrator has it (a store may use it). */
  encodedPayload?: Buffer | undefined;
}

/** A worker's state that survives restarts. */
export interface StoredWorkerState {
  manuallyEnabled: boolean;
  breaker: BreakerState;
  consecutiveFailures: number;
  /** Epoch ms at which an open breaker lets its trial run. */
  cooldownUntil: number | undefined;
  lastRunAt: number | undefined;
  lastSuccessAt: number | undefined;
  lastEndedAt: number | undefined;
  lastError: string | undefined;
  lastFailureReason: FailureReason | undefined;
  totals: RunTotals;
}

/** One finished run, for `getHistory()` and the dashboard. */
export interface RunRecord {
  worker: string;
  runId: string;
  origin: string;
  /** Epoch ms of the first attempt's start, and of the end. */
  startedAt: number;
  endedAt: number;
  outcome: 'succeeded' | 'failed' | 'aborted';
  reason: FailureReason | undefined;
  attempts: number;
  durationMs: number;
}

/** Everything a store holds, read once at `start()`. */
export interface StoredState {
  runs: StoredRun[];
  deadLetters: DeadLetter[];
  workers: Record<string, StoredWorkerState>;
  /** The latest runs of each worker, oldest first. */
  history: RunRecord[];
}

/** One change to the stored state; the orchestrator sends them in batches. */
export type StoreChange =
  | { type: 'run-queued'; run: StoredRun }
  | { type: 'run-started'; id: string; attempts: number }
  | { type: 'run-over'; id: string }
  | { type: 'dead-letter'; entry: DeadLetter }
  | { type: 'dead-letter-removed'; id: string }
  | { type: 'worker'; name: string; state: StoredWorkerState }
  | { type: 'history'; record: RunRecord };

/**
 * A durable store. `open` takes the store for this orchestrator alone (a second one must be refused)
 * and returns what it holds; `apply` writes a batch of changes atomically; `close` releases it.
 * Failures to open are reported as `OrchestratorError` code `ERR_STORE`.
 */
export interface Store {
  open(): StoredState | Promise<StoredState>;
  apply(changes: readonly StoreChange[]): void | Promise<void>;
  close(): void | Promise<void>;
}

/** How many finished runs of each worker the history keeps (in memory and in a durable store). */
export const HISTORY_PER_WORKER = 20;
