import { serialize } from 'node:v8';
import type { Logger } from 'pino';
import { describeError, OrchestratorError } from '../errors.ts';
import type { DeadLetter } from '../types.ts';
import type { WorkerRecord } from '../worker-record.ts';
import { Journal } from './journal.ts';
import { resolveStore } from './resolve.ts';
import type { RunRecord, Store, StoredRun, StoredState } from './store.ts';

/**
 * The orchestrator's side of durable state: opens and closes the store, sends it changes through the
 * write-behind journal while it is open, and remembers the calls made while it is closed (before
 * start, after stop) so they can be applied again on top of what the store holds at the next start.
 * With the in-memory store (`'memory'`) every method is a no-op.
 */
export class Persistence {
  readonly #store: Store | undefined;
  readonly #journal: Journal | undefined;
  readonly #whileClosed: (() => void)[] = [];
  #open = false;

  constructor(option: 'memory' | string | Store | undefined, log: Logger) {
    this.#store = resolveStore(option);
    this.#journal =
      this.#store === undefined
        ? undefined
        : new Journal(this.#store, (error) =>
            log.error({ err: error }, 'the durable store refused a write: state may be lost'),
          );
  }

  /** A durable store is configured (a file or a Store object). */
  get durable(): boolean {
    return this.#store !== undefined;
  }

  /** Opens the store; what it holds, or undefined with nothing to restore. Errors are ERR_STORE. */
  async open(): Promise<StoredState | undefined> {
    if (this.#store === undefined || this.#open) return undefined;
    try {
      const state = await this.#store.open();
      this.#open = true;
      return state;
    } catch (error) {
      if (error instanceof OrchestratorError) throw error;
      throw new OrchestratorError('ERR_STORE', `the store cannot be opened: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  /** Applies the calls remembered while the store was closed (after `open` and the restore). */
  replayWhileClosed(): void {
    for (const redo of this.#whileClosed.splice(0)) redo();
  }

  /** With a durable store that is closed, `redo` is applied again at the next start. */
  whileClosed(redo: () => void): void {
    if (this.#store !== undefined && !this.#open) this.#whileClosed.push(redo);
  }

  /** Writes what is pending and releases the store (its lock) for whoever opens it next. */
  async close(workers: Iterable<WorkerRecord>): Promise<void> {
    if (this.#store === undefined || !this.#open) return;
    for (const worker of workers) this.worker(worker);
    await this.#journal?.flush();
    await this.#store.close();
    this.#open = false;
  }

  flush(): Promise<void> {
    return this.#journal?.flush() ?? Promise.resolve();
  }

  /**
   * The payload as the store keeps it (structured clone, serialized once, here, so that a payload that
   * cannot be kept is refused at the call instead of failing a whole batch later). Throws ERR_STORE.
   */
  encode(payload: unknown): Buffer | undefined {
    if (this.#store === undefined || payload === undefined) return undefined;
    try {
      return serialize(payload);
    } catch (error) {
      throw new OrchestratorError(
        'ERR_STORE',
        `the payload cannot be kept by the store: ${describeError(error)}`,
      );
    }
  }

  runQueued(run: StoredRun): void {
    if (this.#open) this.#journal?.runQueued(run);
  }

  runStarted(id: string, attempts: number): void {
    if (this.#open) this.#journal?.runStarted(id, attempts);
  }

  runOver(id: string): void {
    if (this.#open) this.#journal?.runOver(id);
  }

  history(record: RunRecord): void {
    if (this.#open) this.#journal?.history(record);
  }

  worker(worker: WorkerRecord): void {
    if (this.#open) this.#journal?.worker(worker.name, () => worker.storedState());
  }

  deadLetterStored(entry: DeadLetter): void {
    if (this.#open) this.#journal?.deadLetter(entry);
  }

  /** A removal while the store is closed is remembered (`redo`), or the entry would come back. */
  deadLetterRemoved(id: string, redo: () => void): void {
    if (this.#open) this.#journal?.deadLetterRemoved(id);
    else this.whileClosed(redo);
  }
}
