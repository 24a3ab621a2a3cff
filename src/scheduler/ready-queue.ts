import type { Run } from '../run.ts';
import type { WorkerRecord } from '../worker-record.ts';
import { Heap } from './heap.ts';

export type ReadyItem = { kind: 'retry'; run: Run } | { kind: 'worker'; worker: WorkerRecord };

/**
 * What may start next, best first: higher priority, then the one waiting longest. Holds each worker
 * with waiting runs once (keyed by its oldest run) and the retries whose backoff is over. Readiness
 * gates are the dispatcher's business; it pops, checks, and offers back what could not start.
 */
export class ReadyQueue {
  readonly #workers = new Heap<WorkerRecord>((a, b) =>
    a.options.priority !== b.options.priority
      ? a.options.priority > b.options.priority
      : a.queue.readyKey < b.queue.readyKey,
  );
  readonly #retries = new Heap<Run>((a, b) =>
    a.worker.options.priority !== b.worker.options.priority
      ? a.worker.options.priority > b.worker.options.priority
      : a.seq < b.seq,
  );

  /** Puts `worker` in line if it has waiting runs and is not in line yet. */
  offerWorker(worker: WorkerRecord): void {
    const lane = worker.queue;
    if (lane.inReadyHeap) return;
    const oldest = lane.oldestSeq();
    if (oldest === undefined) return;
    lane.inReadyHeap = true;
    lane.readyKey = oldest;
    this.#workers.push(worker);
  }

  offerRetry(run: Run): void {
    run.state = 'retry-ready';
    this.#retries.push(run);
  }

  /** Removes and returns the best candidate. */
  pop(): ReadyItem | undefined {
    this.#dropStaleRetries();
    const retry = this.#retries.peek();
    const worker = this.#workers.peek();
    if (retry === undefined && worker === undefined) return undefined;
    if (worker === undefined || (retry !== undefined && retryFirst(retry, worker))) {
      this.#retries.pop();
      return { kind: 'retry', run: retry as Run };
    }
    this.#workers.pop();
    worker.queue.inReadyHeap = false;
    return { kind: 'worker', worker };
  }

  #dropStaleRetries(): void {
    // A retry cancelled while waiting here is left in place and skipped now.
    while (this.#retries.size > 0 && (this.#retries.peek() as Run).state !== 'retry-ready')
      this.#retries.pop();
  }
}

function retryFirst(retry: Run, worker: WorkerRecord): boolean {
  const p = retry.worker.options.priority;
  return p !== worker.options.priority ? p > worker.options.priority : retry.seq < worker.queue.readyKey;
}
