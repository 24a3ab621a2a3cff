import { randomUUID } from 'node:crypto';
import { OrchestratorError } from './errors.ts';
import type { DeadLetter } from './types.ts';

/** Runs that failed after their last attempt, kept with their payload for inspection and replay. */
export class DeadLetterQueue {
  readonly #entries = new Map<string, DeadLetter>();
  readonly #replay: (entry: DeadLetter) => Promise<unknown>;
  readonly #max: number;
  readonly #onEvicted: (entry: DeadLetter) => void;

  /** @internal created by the orchestrator */
  constructor(
    replay: (entry: DeadLetter) => Promise<unknown>,
    max: number,
    onEvicted: (entry: DeadLetter) => void,
  ) {
    this.#replay = replay;
    this.#max = max;
    this.#onEvicted = onEvicted;
  }

  /** Entries, oldest first; only those of worker `name` when given. */
  list(name?: string): DeadLetter[] {
    const out: DeadLetter[] = [];
    for (const entry of this.#entries.values())
      if (name === undefined || entry.name === name) out.push({ ...entry });
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
    return this.#replay({ ...entry });
  }

  remove(id: string): boolean {
    return this.#entries.delete(id);
  }

  /** @internal records a failed run, or updates the entry a failed replay came from. */
  record(entry: Omit<DeadLetter, 'id'>, replayOf?: string): DeadLetter {
    const existing = replayOf === undefined ? undefined : this.#entries.get(replayOf);
    if (existing !== undefined) {
      Object.assign(existing, entry, { id: existing.id });
      return { ...existing };
    }
    const created: DeadLetter = { id: randomUUID(), ...entry };
    this.#entries.set(created.id, created);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.values().next().value as DeadLetter;
      this.#entries.delete(oldest.id);
      this.#onEvicted(oldest);
    }
    return { ...created };
  }

  /** @internal */
  clearEntry(id: string): void {
    this.#entries.delete(id);
  }
}
