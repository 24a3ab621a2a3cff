import type { DeadLetter } from '../types.ts';
import type { RunRecord, Store, StoreChange, StoredRun, StoredWorkerState } from './store.ts';

/**
 * Batches are at least this far apart (group commit): under load, the changes of several turns go in
 * one batch. Each transaction has a fixed cost (about 15 µs of SQLite work here, whatever it holds), so
 * with runs ending every few µs a batch per turn held 2–3 runs and that fixed cost dominated.
 */
export const BATCH_SPACING_MS = 1;

/**
 * Write-behind for a durable store: changes are coalesced and written in one batch (one transaction
 * for SQLite) at the next turn of the event loop — or, when the previous batch was written less than
 * BATCH_SPACING_MS ago, once that much time has passed. A run queued and finished before its batch is
 * written is never written at all; a worker's state is written once per batch however often it
 * changed. The cost: a change is durable one event-loop turn after it was made, at most
 * BATCH_SPACING_MS later under load (`flush()` writes at once and waits for it).
 */
export class Journal {
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  #runs = new Map<string, { queued?: StoredRun; attempts?: number; over?: boolean }>();
  #deadLetters = new Map<string, DeadLetter | null>();
  #workers = new Map<string, () => StoredWorkerState>();
  #history: RunRecord[] = [];
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** When the last batch was taken (performance.now()). */
  #lastBatchAt = Number.NEGATIVE_INFINITY;
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
    this.#schedule();
  }

  /** Writes what is pending now and resolves when it (and every earlier batch) is stored. */
  flush(): Promise<void> {
    this.#cancelScheduled();
    const changes = this.#take();
    if (changes.length > 0) {
      this.#lastBatchAt = performance.now();
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
    const wait = this.#lastBatchAt + BATCH_SPACING_MS - performance.now();
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
    for (const record of this.#history) changes.push({ type: 'history', record });
    this.#runs = new Map();
    this.#deadLetters = new Map();
    this.#workers = new Map();
    this.#history = [];
    return changes;
  }
}
