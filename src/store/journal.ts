import type { DeadLetter } from '../types.ts';
import {
  HISTORY_PER_WORKER,
  type RunRecord,
  type Store,
  type StoreChange,
  type StoredRun,
  type StoredWorkerState,
} from './store.ts';

/**
 * Group commit: at most two batches go within any BATCH_SPACING_MS, so that under load one batch takes
 * the changes of several turns, while a change after a quiet spell (and the one right after it) is
 * still written at the next turn. Each transaction has a fixed cost (about 15 µs of SQLite work here,
 * whatever it holds): with runs ending every few µs, a batch per turn held 2–3 runs and that fixed cost
 * dominated.
 */
export const BATCH_SPACING_MS = 1;

/** Pending history records are trimmed to each worker's newest HISTORY_PER_WORKER once this many pile up. */
const HISTORY_TRIM_AT = 256;

/**
 * Write-behind for a durable store: changes are coalesced and written in one batch (one transaction
 * for SQLite) at the next turn of the event loop — or, when two batches already went within the last
 * BATCH_SPACING_MS, once the older of them is that old. A run queued and finished before its batch is
 * written is never written at all; a worker's state is written once per batch however often it
 * changed; a batch carries the newest HISTORY_PER_WORKER history records of a worker at most (a store
 * keeps no more: older ones would be overwritten within the batch). The cost: a change is durable one
 * event-loop turn after it was made, at most BATCH_SPACING_MS later under load (`flush()` writes at once
 * and waits for it).
 *
 * Runs that end in microtasks (inline workers awaited in a loop) never yield to the event loop, so a
 * batch can gather for as long as they go on: the history records are trimmed as they pile up, so that
 * what waits for the batch stays bounded (it was every record since the last batch).
 */
export class Journal {
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  #runs = new Map<string, { queued?: StoredRun; attempts?: number; over?: boolean }>();
  #deadLetters = new Map<string, DeadLetter | null>();
  #workers = new Map<string, () => StoredWorkerState>();
  #history: RunRecord[] = [];
  #trimHistoryAt = HISTORY_TRIM_AT;
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** When the two latest batches were taken (performance.now()), the older first. */
  #batchTimes: [older: number, newer: number] = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  #writing: Promise<void> = Promise.resolve();

  constructor(store: Store, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  runQueued(run: StoredRun): void {
    this.#runs.set(run.id, { queued: run });
    this.#schedule();
  }

  runStarted(id: string, attempts: number): void {
    const entry = this.#runs.get(id);
    if (entry === undefined) this.#runs.set(id, { attempts });
    else entry.attempts = attempts;
    this.#schedule();
  }

  runOver(id: string): void {
    const entry = this.#runs.get(id);
    if (entry?.queued !== undefined) this.#runs.delete(id);
    else this.#runs.set(id, { over: true });
    this.#schedule();
  }

  deadLetter(entry: DeadLetter): void {
    this.#deadLetters.set(entry.id, entry);
    this.#schedule();
  }

  deadLetterRemoved(id: string): void {
    this.#deadLetters.set(id, null);
    this.#schedule();
  }

  /** The worker's state is read when the batch is written, so only its latest value is stored. */
  worker(name: string, state: () => StoredWorkerState): void {
    this.#workers.set(name, state);
    this.#schedule();
  }

  history(record: RunRecord): void {
    this.#history.push(record);
    if (this.#history.length >= this.#trimHistoryAt) {
      this.#history = newestPerWorker(this.#history);
      // Trimmed again once it has doubled: amortised O(1) per record however many workers there are.
      this.#trimHistoryAt = Math.max(HISTORY_TRIM_AT, 2 * this.#history.length);
    }
    this.#schedule();
  }

  /** Writes what is pending now and resolves when it (and every earlier batch) is stored. */
  flush(): Promise<void> {
    this.#cancelScheduled();
    const changes = this.#take();
    if (changes.length > 0) {
      this.#batchTimes = [this.#batchTimes[1], performance.now()];
      this.#writing = this.#writing.then(async () => {
        try {
          await this.#store.apply(changes);
        } catch (error) {
          this.#onError(error);
        }
      });
    }
    return this.#writing;
  }

  #schedule(): void {
    if (this.#scheduled !== undefined) return;
    const write = () => {
      this.#scheduled = undefined;
      void this.flush();
    };
    const wait = this.#batchTimes[0] + BATCH_SPACING_MS - performance.now();
    this.#scheduled = wait > 0 ? setTimeout(write, wait) : setImmediate(write);
  }

  #cancelScheduled(): void {
    const scheduled = this.#scheduled;
    if (scheduled === undefined) return;
    this.#scheduled = undefined;
    // Which kind it is tells which to clear (a Timeout has refresh()).
    if ('refresh' in scheduled) clearTimeout(scheduled);
    else clearImmediate(scheduled);
  }

  #take(): StoreChange[] {
    const changes: StoreChange[] = [];
    for (const [id, entry] of this.#runs) {
      if (entry.over === true) changes.push({ type: 'run-over', id });
      else if (entry.queued !== undefined) {
        const run =
          entry.attempts === undefined ? entry.queued : { ...entry.queued, attempts: entry.attempts };
        changes.push({ type: 'run-queued', run });
      } else if (entry.attempts !== undefined)
        changes.push({ type: 'run-started', id, attempts: entry.attempts });
    }
    for (const [id, entry] of this.#deadLetters) {
      changes.push(
        entry === null ? { type: 'dead-letter-removed', id } : { type: 'dead-letter', entry: { ...entry } },
      );
    }
    for (const [name, state] of this.#workers) changes.push({ type: 'worker', name, state: state() });
    for (const record of newestPerWorker(this.#history)) changes.push({ type: 'history', record });
    this.#runs = new Map();
    this.#deadLetters = new Map();
    this.#workers = new Map();
    this.#history = [];
    this.#trimHistoryAt = HISTORY_TRIM_AT;
    return changes;
  }
}

/** The newest HISTORY_PER_WORKER records of each worker, in their order. */
function newestPerWorker(records: RunRecord[]): RunRecord[] {
  if (records.length <= HISTORY_PER_WORKER) return records;
  const kept: RunRecord[] = [];
  const seen = new Map<string, number>();
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i] as RunRecord;
    const count = (seen.get(record.worker) ?? 0) + 1;
    seen.set(record.worker, count);
    if (count <= HISTORY_PER_WORKER) kept.push(record);
  }
  return kept.length === records.length ? records : kept.reverse();
}
