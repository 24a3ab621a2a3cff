import type { WorkQueue } from './queue/work-queue.ts';
import type { ClusterStatus, OrchestratorStatus, RunTotals, WorkerStatus } from './types.ts';
import type { WorkerRecord } from './worker-record.ts';

export interface StatusContext {
  state: OrchestratorStatus['state'];
  workers: Iterable<WorkerRecord>;
  count: number;
  queue: WorkQueue;
  dueAt(worker: WorkerRecord): number | undefined;
  containment: OrchestratorStatus['containment'];
  /** Cluster mode: figures summed over every host, and the hosts. */
  shared?: SharedView | undefined;
}

/** What a cluster knows beyond this host (answered from its mirror, synchronously). */
export interface SharedView {
  runningCount(worker: WorkerRecord): number;
  totals(worker: WorkerRecord): RunTotals;
  cluster(): ClusterStatus;
}

/** Beyond this, a time cannot be a Date (it would throw in toISOString). */
const MAX_DATE_MS = 8.64e15;

/** `getStatus()`: a snapshot of the orchestrator and each worker, times as ISO strings. */
export function buildStatus(ctx: StatusContext): OrchestratorStatus {
  // Null prototype: a worker may be named `__proto__` or `constructor` (README: worker names).
  const workerStates: Record<string, WorkerStatus> = Object.create(null);
  let running = 0;
  let queued = 0;
  for (const worker of ctx.workers) {
    const waiting = ctx.queue.waiting(worker);
    const runningCount = ctx.shared?.runningCount(worker) ?? worker.inFlight;
    const status: WorkerStatus = {
      enabled: worker.enabled,
      running: runningCount > 0,
      failures: worker.breaker.consecutiveFailures,
      runningCount,
      queued: waiting,
      breaker: worker.breaker.state,
      totals: ctx.shared?.totals(worker) ?? { ...worker.totals },
    };
    if (worker.lastRunAt !== undefined) status.lastRun = isoDate(worker.lastRunAt);
    if (worker.lastSuccessAt !== undefined) status.lastSuccess = isoDate(worker.lastSuccessAt);
    if (worker.lastError !== undefined) status.lastError = worker.lastError;
    if (worker.lastFailureReason !== undefined) status.lastFailureReason = worker.lastFailureReason;
    const due = ctx.dueAt(worker);
    if (due !== undefined && due < MAX_DATE_MS) status.nextRunAt = isoDate(due);
    if (worker.resources !== undefined) status.resources = { ...worker.resources };
    workerStates[worker.name] = status;
    running += runningCount;
    queued += waiting;
  }
  const status: OrchestratorStatus = {
    state: ctx.state,
    workers: ctx.count,
    running,
    queued,
    containment: ctx.containment,
    workerStates,
  };
  if (ctx.shared !== undefined) status.cluster = ctx.shared.cluster();
  return status;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
