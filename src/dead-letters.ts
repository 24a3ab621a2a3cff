import { randomUUID } from 'node:crypto';
import { OrchestratorError } from './errors.ts';
import type { DeadLetter } from './types.ts';

/** What the dead-letter queue tells its owner (to log, and to keep a durable store in step). */
export interface DeadLetterHooks {
  replay(entry: DeadLetter): Promise<unknown>;
  /** An entry was recorded or updated. */
  stored(entry: DeadLetter): void;
  /** An entry is gone: removed, replayed successfully, or `evicted` beyond the size limit. */
  removed(entry: DeadLetter, evicted: boolean): void;
}

/** Runs that failed after their last attempt, kept with their payload for inspection and replay. */
export class DeadLetterQueue {
  readonly #entries = new Map<string, DeadLetter>();
  readonly #hooks: DeadLetterHooks;
  readonly #max: number;
  readonly #idIsRun: boolean;

  /**
   * @internal created by the orchestrator. `idIsRun`: a new entry takes the id its run gives as
   * `replayOf` (cluster mode: the BullMQ job id, the same on every host) instead of a fresh UUID.
   */
  constructor(hooks: DeadLetterHooks, max: number, idIsRun = false) {
    this.#hooks = hooks;
    this.#max = max;
    this.#idIsRun = idIsRun;
  }

  /** Entries, oldest first; only those of worker `name` when given. */
  list(name?: string): DeadLetter[] {
    const out: DeadLetter[] = [];
    for (const entry of this.#entries.values()) {
      if (name === undefined || entry.name === name) out.push({ ...entry });
    }
    return out;
  }

  get(id: string): DeadLetter | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : { ...entry };
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Runs the entry again as `run()` would. Resolves with the result and removes the entry on success;
   * on failure the entry stays (one entry, its attempts, error and time updated) and this rejects.
   */
  replay(id: string): Promise<unknown> {
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      return Promise.reject(
        new OrchestratorError('ERR_UNKNOWN_DEAD_LETTER', `no dead letter with id "${id}"`),
      );
    }
    return this.#hooks.replay({ ...entry });
  }

  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#entries.delete(id);
    this.#hooks.removed(entry, false);
    return true;
  }

  /** @internal records a failed run, or updates the entry a failed replay came from. */
  record(entry: Omit<DeadLetter, 'id'>, replayOf?: string): DeadLetter {
    const existing = replayOf === undefined ? undefined : this.#entries.get(replayOf);
    if (existing !== undefined) {
      Object.assign(existing, entry, { id: existing.id });
      this.#hooks.stored(existing);
      return { ...existing };
    }
    const id = this.#idIsRun && replayOf !== undefined ? replayOf : randomUUID();
    const created: DeadLetter = { id, ...entry };
    this.#entries.set(created.id, created);
    this.#hooks.stored(created);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.values().next().value as DeadLetter;
      this.#entries.delete(oldest.id);
      this.#hooks.removed(oldest, true);
    }
    return { ...created };
  }

  /** @internal cluster mode: an entry recorded by another host, mirrored here (no hooks). */
  put(entry: DeadLetter): void {
    this.#entries.set(entry.id, { ...entry });
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** @internal cluster mode: an entry removed or replayed by another host (no hooks). */
  forget(id: string): boolean {
    return this.#entries.delete(id);
  }

  /** @internal replaces the contents with entries read from a durable store. */
  load(entries: readonly DeadLetter[]): void {
    this.#entries.clear();
    for (const entry of entries) this.#entries.set(entry.id, { ...entry });
  }
}
