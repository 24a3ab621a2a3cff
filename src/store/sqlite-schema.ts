// The SQLite store's schema: its migrations and the rows it reads (the store is sqlite.ts).
import { HISTORY_PER_WORKER } from './store.ts';

/**
 * Schema migrations, in order; `PRAGMA user_version` is the number applied.
 *
 * 2: every table a commit touches on the hot path is one B-tree (WITHOUT ROWID: no second index
 * beside the table), and the history is a ring of HISTORY_PER_WORKER slots per worker, overwritten
 * in place, instead of rows inserted, indexed and pruned. A batch with one run's changes then writes
 * 3 pages to the WAL instead of 7 (see "Durable state" in the README).
 */
export const MIGRATIONS: readonly string[] = [
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
  `CREATE TABLE runs_v2 (
     id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker TEXT NOT NULL, origin TEXT NOT NULL,
     payload BLOB, priority INTEGER NOT NULL, enqueued_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0, run_key TEXT, replay_of TEXT) WITHOUT ROWID;
   INSERT INTO runs_v2 SELECT id, seq, worker, origin, payload, priority, enqueued_at, attempts, run_key, replay_of
     FROM runs;
   DROP TABLE runs;
   ALTER TABLE runs_v2 RENAME TO runs;
   CREATE TABLE workers_v2 (name TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;
   INSERT INTO workers_v2 SELECT name, state FROM workers;
   DROP TABLE workers;
   ALTER TABLE workers_v2 RENAME TO workers;
   CREATE TABLE history_v2 (
     worker TEXT NOT NULL, slot INTEGER NOT NULL, id INTEGER NOT NULL, run_id TEXT NOT NULL,
     origin TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, outcome TEXT NOT NULL,
     reason TEXT, attempts INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
     PRIMARY KEY (worker, slot)) WITHOUT ROWID;
   INSERT INTO history_v2
     SELECT worker, ${HISTORY_PER_WORKER} - newest, id, run_id, origin, started_at, ended_at, outcome, reason,
       attempts, duration_ms
     FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY worker ORDER BY id DESC) AS newest FROM history)
     WHERE newest <= ${HISTORY_PER_WORKER};
   DROP TABLE history;
   ALTER TABLE history_v2 RENAME TO history;`,
];
export const AUTO_VACUUM_INCREMENTAL = 2;

export interface RunRow {
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

export interface DeadLetterRow {
  id: string;
  worker: string;
  payload: Buffer | null;
  reason: string;
  error: string;
  attempts: number;
  failed_at: string;
}

export interface HistoryRow {
  worker: string;
  slot: number;
  id: number;
  run_id: string;
  origin: string;
  started_at: number;
  ended_at: number;
  outcome: string;
  reason: string | null;
  attempts: number;
  duration_ms: number;
}
