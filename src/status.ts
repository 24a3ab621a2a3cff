import type { WorkQueue } from './queue/work-queue.ts';
import type { OrchestratorStatus, WorkerStatus } from './types.ts';
import type { WorkerRecord } from './worker-record.ts';

export interface StatusContext {
  state: OrchestratorStatus['state'];
  workers: Iterable<WorkerRecord>;
  count: number;
  queue: WorkQueue;
  dueAt(worker: WorkerRecord): number | undefined;
  containment: OrchestratorStatus['containment'];
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
    const status: WorkerStatus = {
      enabled: worker.enabled,
      running: worker.inFlight > 0,
      failures: worker.breaker.consecutiveFailures,
      runningCount: worker.inFlight,
      queued: waiting,
      breaker: worker.breaker.state,
      totals: { ...worker.totals },
    };
    if (worker.lastRunAt !== undefined) status.lastRun = isoDate(worker.lastRunAt);
    if (worker.lastSuccessAt !== undefined) status.lastSuccess = isoDate(worker.lastSuccessAt);
    if (worker.lastError !== undefined) status.lastError = worker.lastError;
    if (worker.lastFailureReason !== undefined) status.lastFailureReason = worker.lastFailureReason;
    const due = ctx.dueAt(worker);
    if (due !== undefined && due < MAX_DATE_MS) status.nextRunAt = isoDate(due);
    if (worker.resources !== undefined) status.resources = { ...worker.resources };
    workerStates[worker.name] = status;
    running += worker.inFlight;
    queued += waiting;
  }
  return {
    state: ctx.state,
    workers: ctx.count,
    running,
    queued,
    containment: ctx.containment,
    workerStates,
  };
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
