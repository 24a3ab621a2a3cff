import type { Logger } from 'pino';
import type { DeadLetterQueue } from '../dead-letters.ts';
import type { WorkerRecord } from '../worker-record.ts';
import type { StoredRun, StoredState } from './store.ts';

export interface RestoreContext {
  log: Logger;
  workers: ReadonlyMap<string, WorkerRecord>;
  deadLetters: DeadLetterQueue;
  /** New runs must sort after the kept ones, at this start and the next. */
  sequenceAtLeast(seq: number): void;
  /** Queues a stored run again (admission: its key, its place in line). */
  requeue(worker: WorkerRecord, run: StoredRun): void;
}

/**
 * Takes back what a durable store holds, at the first start or after a stop released it: each worker's
 * state (enabled, breaker, last runs, totals), the dead letters, the run history, and the runs that
 * were queued or in flight — queued again in their order, with the attempts they had made.
 */
export function restore(state: StoredState, ctx: RestoreContext): void {
  for (const [name, stored] of Object.entries(state.workers)) ctx.workers.get(name)?.restore(stored);
  ctx.deadLetters.load(state.deadLetters);
  for (const worker of ctx.workers.values()) worker.history = undefined;
  for (const record of state.history) ctx.workers.get(record.worker)?.addHistory(record);
  for (const stored of state.runs) ctx.sequenceAtLeast(stored.seq);
  let orphans = 0;
  for (const stored of state.runs) {
    const worker = ctx.workers.get(stored.worker);
    if (worker === undefined) {
      orphans++;
      continue;
    }
    ctx.requeue(worker, stored);
  }
  if (orphans > 0) {
    ctx.log.warn({ runs: orphans }, 'stored runs of workers not registered: left in the store untouched');
  }
  if (state.runs.length > 0) ctx.log.info({ runs: state.runs.length - orphans }, 'stored runs resumed');
}
