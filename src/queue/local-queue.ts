import type { Clock } from '../clock.ts';
import { ORIGINS, type Run, type StoredOrigin } from '../run.ts';
import { ReadyQueue } from '../scheduler/ready-queue.ts';
import type { Persistence } from '../store/persistence.ts';
import type { StoredRun } from '../store/store.ts';
import type { WorkerRecord } from '../worker-record.ts';
import type { StartGate, WorkQueue } from './work-queue.ts';

export interface LocalQueueContext {
  clock: Clock;
  /** Where stored runs are journaled (a no-op with the in-memory store). */
  persistence: Persistence;
  workers(): Iterable<WorkerRecord>;
  /** A retry's backoff is over: it may start. */
  onRetryReady(): void;
}

/**
 * The queue of one host: each worker's waiting runs in memory (its WorkerQueue), a ready heap over the
 * workers and the retries, and — with a durable store — every stored run journaled from `add` to
 * `settle`, so that what waits or runs when the process dies is taken back at the next start.
 */
export class LocalQueue implements WorkQueue {
  readonly #ctx: LocalQueueContext;
  readonly #ready = new ReadyQueue();
  readonly #inFlight = new Set<Run>();

  constructor(context: LocalQueueContext) {
    this.#ctx = context;
  }

  get durable(): boolean {
    return this.#ctx.persistence.durable;
  }

  get inFlight(): ReadonlySet<Run> {
    return this.#inFlight;
  }

  add(run: Run, encodedPayload?: Buffer): void {
    if (this.durable && ORIGINS[run.origin].stored) {
      this.#ctx.persistence.runQueued(storedRun(run, encodedPayload));
    }
    this.addRestored(run);
  }

  addRestored(run: Run): void {
    run.worker.queue.push(run);
    // A new run may be startable where the waiting ones were not (a request does not wait for
    // dependency freshness), so a blocked worker gets another look.
    this.wake(run.worker);
  }

  withdraw(run: Run): boolean {
    return run.worker.queue.remove(run);
  }

  next(canStart: StartGate): Run | undefined {
    for (;;) {
      const item = this.#ready.pop();
      if (item === undefined) return undefined;
      if (item.kind === 'retry') return item.run;
      const worker = item.worker;
      const run = worker.queue.takeStartable((r) => canStart(worker, r));
      if (run === undefined) {
        // Out of the heap until a run of its own or of a partner ends, or it is enabled again: the
        // dispatcher never walks over workers that cannot start.
        worker.queue.blocked = true;
        continue;
      }
      this.#ready.offerWorker(worker);
      return run;
    }
  }

  wake(worker: WorkerRecord): void {
    worker.queue.blocked = false;
    this.#ready.offerWorker(worker);
  }

  begin(run: Run): void {
    run.state = 'running';
    run.worker.inFlight++;
    if (run.origin === 'schedule') run.worker.scheduledInFlight++;
    this.#inFlight.add(run);
  }

  attemptStarted(run: Run): void {
    if (ORIGINS[run.origin].stored) this.#ctx.persistence.runStarted(run.id, run.attempt);
  }

  retryAfter(run: Run, delayMs: number): void {
    const { clock } = this.#ctx;
    run.state = 'backoff';
    const timer = clock.setTimeout(() => {
      run.cancelBackoff = undefined;
      this.#ready.offerRetry(run);
      this.#ctx.onRetryReady();
    }, delayMs);
    run.cancelBackoff = () => clock.clearTimeout(timer);
  }

  cancelRetry(run: Run): boolean {
    if (run.state !== 'backoff' && run.state !== 'retry-ready') return false;
    run.cancelBackoff?.();
    run.cancelBackoff = undefined;
    // A retry already in the ready heap is skipped there once the run is no longer 'retry-ready'.
    return true;
  }

  settle(run: Run): void {
    if (ORIGINS[run.origin].stored && !run.kept) this.#ctx.persistence.runOver(run.id);
    if (!this.#inFlight.delete(run)) return;
    run.worker.inFlight--;
    if (run.origin === 'schedule') run.worker.scheduledInFlight--;
  }

  keepForNextStart(run: Run): boolean {
    if (!this.durable || !ORIGINS[run.origin].stored) return false;
    run.kept = true;
    return true;
  }

  drain(): Run[] {
    const runs: Run[] = [];
    for (const worker of this.#ctx.workers()) {
      worker.queue.blocked = false;
      runs.push(...worker.queue.drain());
    }
    return runs;
  }

  waiting(worker: WorkerRecord): number {
    return worker.queue.size;
  }

  waitingRequests(worker: WorkerRecord): number {
    return worker.queue.requested;
  }
}

function storedRun(run: Run, encodedPayload: Buffer | undefined): StoredRun {
  return {
    id: run.id,
    seq: run.seq,
    worker: run.worker.name,
    origin: run.origin as StoredOrigin,
    payload: run.payload,
    priority: run.worker.options.priority,
    enqueuedAt: run.enqueuedAt,
    attempts: run.attempt,
    key: run.key,
    replayOf: run.replayOf,
    encodedPayload,
  };
}
