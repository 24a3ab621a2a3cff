import { accessSync, constants, existsSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import { OrchestratorError } from '../errors.ts';
import type { DeadLetter } from '../types.ts';
import {
  HISTORY_PER_WORKER,
  type RunRecord,
  type Store,
  type StoreChange,
  type StoredRun,
  type StoredState,
  type StoredWorkerState,
} from './store.ts';

/** Schema migrations, in order; `PRAGMA user_version` is the number applied. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker TEXT NOT NULL, origin TEXT NOT NULL,
     payload BLOB, priority INTEGER NOT NULL, enqueued_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0, run_key TEXT, replay_of TEXT);
   CREATE TABLE dead_letters (
     id TEXT PRIMARY KEY, worker TEXT NOT NULL, payload BLOB, reason TEXT NOT NULL, error TEXT NOT NULL,
     attempts INTEGER NOT NULL, failed_at TEXT NOT NULL, position INTEGER NOT NULL);
   CREATE TABLE workers (name TEXT PRIMARY KEY, state TEXT NOT NULL);
   CREATE TABLE history (
     id INTEGER PRIMARY KEY AUTOINCREMENT, worker TEXT NOT NULL, run_id TEXT NOT NULL, origin TEXT NOT NULL,
     started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT,
     attempts INTEGER NOT NULL, duration_ms INTEGER NOT NULL);
   CREATE INDEX history_by_worker ON history (worker, id);`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

function storeError(path: string, why: string, cause?: unknown): OrchestratorError {
  return new OrchestratorError('ERR_STORE', `store ${path}: ${why}`, { cause });
}

/** Payloads keep what structured clone keeps (Dates, Maps, typed arrays...), as in the sandboxes. */
const encode = (value: unknown): Buffer | null => (value === undefined ? null : serialize(value));
const decode = (blob: Buffer | null): unknown => (blob === null ? undefined : deserialize(blob));

/**
 * The durable state in one SQLite file (better-sqlite3, WAL). The orchestrator holds the file alone:
 * the connection uses exclusive locking mode and takes its write lock at open, so a second orchestrator
 * (in this process or another) is refused at once; the lock dies with the process, so a host killed
 * with SIGKILL leaves nothing to clean up. Nothing is written before the file has been checked (a
 * corrupt file, or one from a newer corral, is refused and left as it was).
 */
export class SqliteStore implements Store {
  readonly path: string;
  #db: Database.Database | undefined;
  #apply: ((changes: readonly StoreChange[]) => void) | undefined;

  constructor(path: string) {
    this.path = path;
  }

  open(): StoredState {
    const db = this.#connect();
    try {
      this.#migrate(db);
      this.#db = db;
      this.#apply = this.#prepareWriter(db);
      return this.#read(db);
    } catch (error) {
      db.close();
      this.#db = undefined;
      throw error instanceof OrchestratorError ? error : storeError(this.path, 'cannot be opened', error);
    }
  }

  apply(changes: readonly StoreChange[]): void {
    if (this.#apply === undefined) throw storeError(this.path, 'is not open');
    this.#apply(changes);
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#apply = undefined;
  }

  #connect(): Database.Database {
    const { path } = this;
    if (existsSync(path)) {
      try {
        accessSync(path, constants.R_OK | constants.W_OK);
      } catch (error) {
        throw storeError(path, 'is not readable and writable by this process', error);
      }
    }
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 0 });
    } catch (error) {
      throw storeError(path, 'cannot be opened', error);
    }
    try {
      // Reading first: a corrupt file or a locked one fails here, before anything is written.
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw storeError(
          path,
          `was written by a newer corral (schema ${version}, this one knows ${SCHEMA_VERSION})`,
        );
      }
      if (version > 0) {
        const check = db.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw storeError(path, `is corrupt (quick_check: ${String(check)})`);
      }
      db.pragma('locking_mode = EXCLUSIVE');
      // Takes the lock now (and keeps it until close): a second orchestrator is refused at its open.
      db.exec('BEGIN IMMEDIATE; COMMIT;');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      return db;
    } catch (error) {
      db.close();
      if (error instanceof OrchestratorError) throw error;
      const code = (error as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        throw storeError(path, 'is in use by another orchestrator (locked)', error);
      }
      if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
        throw storeError(path, 'is not a corral store or is corrupt', error);
      }
      throw storeError(path, 'cannot be opened', error);
    }
  }

  #migrate(db: Database.Database): void {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === SCHEMA_VERSION) return;
    db.transaction(() => {
      for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  #read(db: Database.Database): StoredState {
    const runs = (db.prepare('SELECT * FROM runs ORDER BY seq').all() as RunRow[]).map(
      (row): StoredRun => ({
        id: row.id,
        seq: row.seq,
        worker: row.worker,
        origin: row.origin as StoredRun['origin'],
        payload: decode(row.payload),
        priority: row.priority,
        enqueuedAt: row.enqueued_at,
        attempts: row.attempts,
        key: row.run_key ?? undefined,
        replayOf: row.replay_of ?? undefined,
      }),
    );
    const deadLetters = (
      db.prepare('SELECT * FROM dead_letters ORDER BY position').all() as DeadLetterRow[]
    ).map(
      (row): DeadLetter => ({
        id: row.id,
        name: row.worker,
        payload: decode(row.payload),
        reason: row.reason as DeadLetter['reason'],
        error: row.error,
        attempts: row.attempts,
        failedAt: row.failed_at,
      }),
    );
    const workers: Record<string, StoredWorkerState> = {};
    for (const row of db.prepare('SELECT name, state FROM workers').all() as {
      name: string;
      state: string;
    }[]) {
      workers[row.name] = JSON.parse(row.state) as StoredWorkerState;
    }
    const latest = `SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY worker ORDER BY id DESC) AS newest FROM history)
      WHERE newest <= ${HISTORY_PER_WORKER} ORDER BY id`;
    const history = (db.prepare(latest).all() as HistoryRow[]).map(
      (row): RunRecord => ({
        worker: row.worker,
        runId: row.run_id,
        origin: row.origin,
        startedAt: row.started_at,
        endedAt: row.ended_at,
        outcome: row.outcome as RunRecord['outcome'],
        reason: (row.reason ?? undefined) as RunRecord['reason'],
        attempts: row.attempts,
        durationMs: row.duration_ms,
      }),
    );
    return { runs, deadLetters, workers, history };
  }

  #prepareWriter(db: Database.Database): (changes: readonly StoreChange[]) => void {
    const insertRun = db.prepare(
      `INSERT OR REPLACE INTO runs (id, seq, worker, origin, payload, priority, enqueued_at, attempts, run_key, replay_of)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const startRun = db.prepare('UPDATE runs SET attempts = ? WHERE id = ?');
    const deleteRun = db.prepare('DELETE FROM runs WHERE id = ?');
    const putDeadLetter = db.prepare(
      `INSERT INTO dead_letters (id, worker, payload, reason, error, attempts, failed_at, position)
       VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM dead_letters))
       ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, error = excluded.error,
         attempts = excluded.attempts, failed_at = excluded.failed_at`,
    );
    const deleteDeadLetter = db.prepare('DELETE FROM dead_letters WHERE id = ?');
    const putWorker = db.prepare('INSERT OR REPLACE INTO workers (name, state) VALUES (?, ?)');
    const insertHistory = db.prepare(
      `INSERT INTO history (worker, run_id, origin, started_at, ended_at, outcome, reason, attempts, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Keeps the newest HISTORY_PER_WORKER rows of a worker, so the file cannot grow without bound.
    const pruneHistory = db.prepare(
      `DELETE FROM history WHERE worker = ? AND id <= (
         SELECT id FROM history WHERE worker = ? ORDER BY id DESC LIMIT 1 OFFSET ${HISTORY_PER_WORKER})`,
    );
    // Pruning is a DELETE with a subquery: it runs once a worker has written HISTORY_PER_WORKER more
    // records since its last prune (so a worker holds at most twice that), not on every batch.
    const sincePrune = new Map<string, number>();
    return db.transaction((changes: readonly StoreChange[]) => {
      const historyOf = new Set<string>();
      for (const change of changes) {
        switch (change.type) {
          case 'run-queued': {
            const r = change.run;
            insertRun.run(
              r.id,
              r.seq,
              r.worker,
              r.origin,
              r.encodedPayload ?? encode(r.payload),
              r.priority,
              r.enqueuedAt,
              r.attempts,
              r.key ?? null,
              r.replayOf ?? null,
            );
            break;
          }
          case 'run-started':
            startRun.run(change.attempts, change.id);
            break;
          case 'run-over':
            deleteRun.run(change.id);
            break;
          case 'dead-letter': {
            const e = change.entry;
            putDeadLetter.run(e.id, e.name, encode(e.payload), e.reason, e.error, e.attempts, e.failedAt);
            break;
          }
          case 'dead-letter-removed':
            deleteDeadLetter.run(change.id);
            break;
          case 'worker':
            putWorker.run(change.name, JSON.stringify(change.state));
            break;
          case 'history': {
            const h = change.record;
            insertHistory.run(
              h.worker,
              h.runId,
              h.origin,
              h.startedAt,
              h.endedAt,
              h.outcome,
              h.reason ?? null,
              h.attempts,
              h.durationMs,
            );
            const count = (sincePrune.get(h.worker) ?? 0) + 1;
            sincePrune.set(h.worker, count);
            if (count >= HISTORY_PER_WORKER) historyOf.add(h.worker);
            break;
          }
        }
      }
      for (const worker of historyOf) {
        pruneHistory.run(worker, worker);
        sincePrune.set(worker, 0);
      }
    });
  }
}

interface RunRow {
  id: string;
  seq: number;
  worker: string;
  origin: string;
  payload: Buffer | null;
  priority: number;
  enqueued_at: number;
  attempts: number;
  run_key: string | null;
  replay_of: string | null;
}

interface DeadLetterRow {
  id: string;
  worker: string;
  payload: Buffer | null;
  reason: string;
  error: string;
  attempts: number;
  failed_at: string;
}

interface HistoryRow {
  worker: string;
  run_id: string;
  origin: string;
  started_at: number;
  ended_at: number;
  outcome: string;
  reason: string | null;
  attempts: number;
  duration_ms: number;
}
