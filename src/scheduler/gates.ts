import { ORIGINS, type Run } from '../run.ts';
import type { WorkerRecord } from '../worker-record.ts';

/**
 * Whether the oldest waiting run of `worker` may start now (a free global slot is the caller's check):
 * enabled (half-open: only its one trial), under its own `concurrency`, none of the workers it excludes
 * running, and its dependencies idle. Scheduled, continuous and pipeline runs also need every dependency
 * to have succeeded since this worker's last run started; requested runs do not wait for that.
 */
export function canStart(worker: WorkerRecord, run: Run): boolean {
  if (!worker.enabled || !worker.breaker.canStart()) return false;
  if (worker.inFlight >= worker.options.concurrency) return false;
  for (const other of worker.exclusive) if (other.inFlight > 0) return false;
  const { needsFreshDeps } = ORIGINS[run.origin];
  for (const dep of worker.deps) {
    if (dep.inFlight > 0) return false;
    if (needsFreshDeps && !depsFreshFor(worker, dep)) return false;
  }
  return true;
}

/** `dep` has succeeded since `worker`'s last run started (or ever, if it never ran). */
export function depsFreshFor(worker: WorkerRecord, dep: WorkerRecord): boolean {
  return dep.lastSuccessSeq > worker.lastStartSeq;
}

/** A triggered worker whose dependencies all succeeded since its last run: its pipeline run is due. */
export function pipelineDue(worker: WorkerRecord): boolean {
  return worker.deps.length > 0 && worker.deps.every((dep) => depsFreshFor(worker, dep));
}
