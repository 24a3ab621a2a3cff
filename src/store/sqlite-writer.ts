// Writes the SQLite store's batches (the store is sqlite.ts): grouped multi-row statements, what a
// batch undoes never written, and free space given back to the file system.
import { serialize } from 'node:v8';
import type Database from 'better-sqlite3';
import type { HistoryRow } from './sqlite-schema.ts';
import { HISTORY_PER_WORKER, type StoreChange } from './store.ts';

/** Free pages worth this much make the store give the space back (incremental vacuum, WAL truncated). */
const RECLAIM_BYTES = 1024 * 1024;
/** Deleting a payload this large checks the free pages at once... */
const LARGE_PAYLOAD_BYTES = 64 * 1024;
/** ...otherwise they are checked once every this many batches that deleted something. */
const RECLAIM_CHECK_EVERY = 1024;
/** The WAL is cut back to this size when it restarts after a checkpoint (a large payload made it grow). */
export const WAL_SIZE_LIMIT = 4 * 1024 * 1024;
/** Payloads keep what structured clone keeps (Dates, Maps, typed arrays...), as in the sandboxes. */
const encode = (value: unknown): Buffer | null => (value === undefined ? null : serialize(value));

/**
 * Writes batches. Each batch is one transaction; what would be undone within the batch never reaches
 * the file: a run queued and over in the same batch, and history records beyond the newest
 * HISTORY_PER_WORKER of a worker (the ring would overwrite them before the batch ends).
 */
export class Writer {
  readonly #db: Database.Database;
  readonly #transaction: (changes: readonly StoreChange[]) => void;
  readonly #freePages: Database.Statement;
  readonly #pageSize: number;
  /** Next slot of each worker's history ring, and the id of the newest record. */
  #nextSlot = new Map<string, number>();
  #historyId = 0;
  /** Rows ('r' + run id, 'd' + dead letter id) with a payload of LARGE_PAYLOAD_BYTES or more. */
  readonly #large = new Set<string>();
  #deletingBatches = 0;

  constructor(db: Database.Database) {
    this.#db = db;
    const ring = db.prepare('SELECT worker, slot, id FROM history ORDER BY id').all() as HistoryRow[];
    for (const { worker, slot, id } of ring) {
      this.#nextSlot.set(worker, (slot + 1) % HISTORY_PER_WORKER);
      this.#historyId = id;
    }
    const large = (table: string) =>
      db.prepare(`SELECT id FROM ${table} WHERE length(payload) >= ?`).pluck().all(LARGE_PAYLOAD_BYTES);
    for (const id of large('runs')) this.#large.add(`r${String(id)}`);
    for (const id of large('dead_letters')) this.#large.add(`d${String(id)}`);
    this.#freePages = db.prepare('PRAGMA freelist_count').pluck();
    this.#pageSize = db.pragma('page_size', { simple: true }) as number;
    this.#transaction = this.#prepare();
  }

  apply(changes: readonly StoreChange[]): void {
    this.#transaction(changes);
  }

  /**
   * Gives free pages back to the file system when they are worth it: the file shrinks (incremental
   * vacuum) and the WAL is truncated. Checked at once after a large payload was deleted (`now`), else
   * once in a while: it is a read of the page count, not a write.
   */
  reclaim(now: boolean): void {
    if (!now && ++this.#deletingBatches < RECLAIM_CHECK_EVERY) return;
    this.#deletingBatches = 0;
    try {
      const free = this.#freePages.get() as number;
      if (free * this.#pageSize < RECLAIM_BYTES) return;
      this.#db.exec('PRAGMA incremental_vacuum');
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Giving space back is housekeeping: the batch is stored, and a later check tries again.
    }
  }

  #prepare(): (changes: readonly StoreChange[]) => void {
    const db = this.#db;
    const insertRuns = new Chunked(
      db,
      (rows) => `INSERT OR REPLACE INTO runs
         (id, seq, worker, origin, payload, priority, enqueued_at, attempts, run_key, replay_of)
       VALUES ${rows(10)}`,
    );
    const startRuns = new Chunked(db, (rows) => `UPDATE runs SET attempts = ? WHERE id IN (${rows(1)})`);
    const deleteRuns = new Chunked(db, (rows) => `DELETE FROM runs WHERE id IN (${rows(1)})`);
    const putHistory = new Chunked(
      db,
      (rows) => `INSERT OR REPLACE INTO history
         (worker, slot, id, run_id, origin, started_at, ended_at, outcome, reason, attempts, duration_ms)
       VALUES ${rows(11)}`,
    );
    const putDeadLetter = db.prepare(
      `INSERT INTO dead_letters (id, worker, payload, reason, error, attempts, failed_at, position)
       VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM dead_letters))
       ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, error = excluded.error,
         attempts = excluded.attempts, failed_at = excluded.failed_at`,
    );
    const deleteDeadLetter = db.prepare('DELETE FROM dead_letters WHERE id = ?');
    const putWorker = db.prepare('INSERT OR REPLACE INTO workers (name, state) VALUES (?, ?)');

    let slots = new Map<string, number>();
    let historyId = 0;
    let deleted = false;
    let largeDeleted = false;
    // Changes of one kind are gathered and written by a few multi-row statements (one statement per
    // row costs twice as much per row). Changes to different runs commute, so they may be regrouped;
    // a second change to a run already in the groups writes the groups first, keeping their order.
    const queued: unknown[] = [];
    const started = new Map<number, string[]>();
    const over: string[] = [];
    const history: unknown[] = [];
    const touched = new Set<string>();
    const write = (): void => {
      insertRuns.run(queued, 10);
      for (const [attempts, ids] of started) startRuns.run(ids, 1, attempts);
      deleteRuns.run(over, 1);
      putHistory.run(history, 11);
      queued.length = 0;
      started.clear();
      over.length = 0;
      history.length = 0;
      touched.clear();
    };
    const touch = (id: string): void => {
      if (touched.has(id)) write();
      touched.add(id);
    };

    const body = db.transaction((changes: readonly StoreChange[], skip: Set<number> | undefined) => {
      // History records a worker has more than HISTORY_PER_WORKER of in this batch: the older ones.
      const surplus = skip === undefined ? undefined : historySurplus(changes);
      try {
        for (let i = 0; i < changes.length; i++) {
          if (skip?.has(i)) continue;
          const change = changes[i] as StoreChange;
          switch (change.type) {
            case 'run-queued': {
              const r = change.run;
              const payload = r.encodedPayload ?? encode(r.payload);
              touch(r.id);
              queued.push(
                r.id,
                r.seq,
                r.worker,
                r.origin,
                payload,
                r.priority,
                r.enqueuedAt,
                r.attempts,
                r.key ?? null,
                r.replayOf ?? null,
              );
              if (payload !== null && payload.length >= LARGE_PAYLOAD_BYTES) this.#large.add(`r${r.id}`);
              break;
            }
            case 'run-started': {
              touch(change.id);
              const ids = started.get(change.attempts);
              if (ids === undefined) started.set(change.attempts, [change.id]);
              else ids.push(change.id);
              break;
            }
            case 'run-over':
              touch(change.id);
              over.push(change.id);
              deleted = true;
              if (this.#large.delete(`r${change.id}`)) largeDeleted = true;
              break;
            case 'dead-letter': {
              const e = change.entry;
              const payload = encode(e.payload);
              putDeadLetter.run(e.id, e.name, payload, e.reason, e.error, e.attempts, e.failedAt);
              if (payload !== null && payload.length >= LARGE_PAYLOAD_BYTES) this.#large.add(`d${e.id}`);
              break;
            }
            case 'dead-letter-removed':
              deleteDeadLetter.run(change.id);
              deleted = true;
              if (this.#large.delete(`d${change.id}`)) largeDeleted = true;
              break;
            case 'worker':
              putWorker.run(change.name, JSON.stringify(change.state));
              break;
            case 'history': {
              const h = change.record;
              const left = surplus?.get(h.worker) ?? 0;
              if (left > 0) {
                surplus?.set(h.worker, left - 1);
                break;
              }
              const slot = slots.get(h.worker) ?? this.#nextSlot.get(h.worker) ?? 0;
              slots.set(h.worker, (slot + 1) % HISTORY_PER_WORKER);
              history.push(
                h.worker,
                slot,
                ++historyId,
                h.runId,
                h.origin,
                h.startedAt,
                h.endedAt,
                h.outcome,
                h.reason ?? null,
                h.attempts,
                h.durationMs,
              );
              break;
            }
          }
        }
        write();
      } finally {
        // A batch that failed half-way leaves nothing gathered for the next one.
        queued.length = 0;
        started.clear();
        over.length = 0;
        history.length = 0;
        touched.clear();
      }
    });
    return (changes) => {
      slots = new Map();
      historyId = this.#historyId;
      deleted = false;
      largeDeleted = false;
      body(changes, needsSkip(changes) ? undoneWithin(changes) : undefined);
      // Committed: the ring positions move on (a batch rolled back leaves them where they were).
      for (const [worker, slot] of slots) this.#nextSlot.set(worker, slot);
      this.#historyId = historyId;
      if (deleted) this.reclaim(largeDeleted);
    };
  }
}

/** Rows per statement of a {@link Chunked} write: a batch is cut into chunks of these sizes. */
const CHUNKS = [64, 16, 4, 1] as const;

/**
 * One multi-row statement, prepared once per chunk size: `sql(rows)` gets a function that lists the
 * placeholders of a chunk's rows for a given row width.
 */
class Chunked {
  readonly #db: Database.Database;
  readonly #sql: (rows: (width: number) => string) => string;
  readonly #statements = new Map<number, Database.Statement>();

  constructor(db: Database.Database, sql: (rows: (width: number) => string) => string) {
    this.#db = db;
    this.#sql = sql;
  }

  /** Writes `values` (rows of `width` values, flat); `first`, if given, is bound before each chunk's rows. */
  run(values: readonly unknown[], width: number, first?: unknown): void {
    let at = 0;
    for (const size of CHUNKS) {
      const length = size * width;
      while (values.length - at >= length) {
        const chunk = values.slice(at, at + length);
        if (first === undefined) this.#statement(size).run(chunk);
        else this.#statement(size).run(first, chunk);
        at += length;
      }
    }
  }

  #statement(size: number): Database.Statement {
    let statement = this.#statements.get(size);
    if (statement === undefined) {
      const rows = (width: number) => {
        const row = width === 1 ? '?' : `(${new Array(width).fill('?').join(', ')})`;
        return new Array(size).fill(row).join(', ');
      };
      statement = this.#db.prepare(this.#sql(rows));
      this.#statements.set(size, statement);
    }
    return statement;
  }
}

/**
 * Whether a batch may hold changes that undo each other: a run queued and over, or more history
 * records than a ring keeps. The journal already drops the first kind; other callers may not.
 */
function needsSkip(changes: readonly StoreChange[]): boolean {
  let queued = false;
  let history = 0;
  for (const change of changes) {
    if (change.type === 'run-queued') queued = true;
    else if (change.type === 'run-over' && queued) return true;
    else if (change.type === 'history' && ++history > HISTORY_PER_WORKER) return true;
  }
  return false;
}

/** Indexes of the changes that need not be written: a run queued and over within the batch (with its starts). */
function undoneWithin(changes: readonly StoreChange[]): Set<number> {
  const skip = new Set<number>();
  const queuedAt = new Map<string, number[]>();
  changes.forEach((change, i) => {
    if (change.type === 'run-queued') queuedAt.set(change.run.id, [i]);
    else if (change.type === 'run-started') queuedAt.get(change.id)?.push(i);
    else if (change.type === 'run-over') {
      const undone = queuedAt.get(change.id);
      if (undone === undefined) return;
      for (const j of undone) skip.add(j);
      skip.add(i);
      queuedAt.delete(change.id);
    }
  });
  return skip;
}

/** Per worker, how many of its history records in the batch are older than its newest HISTORY_PER_WORKER. */
function historySurplus(changes: readonly StoreChange[]): Map<string, number> {
  const surplus = new Map<string, number>();
  for (const change of changes) {
    if (change.type === 'history')
      surplus.set(change.record.worker, (surplus.get(change.record.worker) ?? 0) + 1);
  }
  for (const [worker, count] of surplus) surplus.set(worker, Math.max(0, count - HISTORY_PER_WORKER));
  return surplus;
}
