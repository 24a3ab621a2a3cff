import type { DeadLetter } from '../types.ts';
import type { RunRecord, Store, StoreChange, StoredRun, StoredWorkerState } from './store.ts';

/**
 * Write-behind for a durable store: changes made during one turn of the event loop are coalesced and
 * written in one batch (one transaction for SQLite) at the next turn. A run queued and finished within
 * the same turn is never written at all; a worker's state is written once per turn however often it
 * changed. The cost: a change is durable one event-loop turn after it was made (`flush()` waits for it).
 */
export class Journal {
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  #runs = new Map<string, { queued?: StoredRun; attempts?: number; over?: boolean }>();
  #deadLetters = new Map<string, DeadLetter | null>();
  #workers = new Map<string, () => StoredWorkerState>();
  #history: RunRecord[] = [];
  #scheduled: NodeJS.Immediate | undefined;
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
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const changes = this.#take();
    if (changes.length > 0) {
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
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined;
      void this.flush();
    });
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
