import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deserialize } from 'node:v8';
import type Database from 'better-sqlite3';
import { OrchestratorError } from '../errors.ts';
import type { DeadLetter } from '../types.ts';
import {
  AUTO_VACUUM_INCREMENTAL,
  type DeadLetterRow,
  type HistoryRow,
  MIGRATIONS,
  type RunRow,
} from './sqlite-schema.ts';
import { WAL_SIZE_LIMIT, Writer } from './sqlite-writer.ts';
import type { RunRecord, Store, StoreChange, StoredRun, StoredState, StoredWorkerState } from './store.ts';

export const SCHEMA_VERSION = MIGRATIONS.length;

function storeError(path: string, why: string, cause?: unknown): OrchestratorError {
  return new OrchestratorError('ERR_STORE', `store ${path}: ${why}`, { cause });
}

const REBUILD =
  'run `npm rebuild better-sqlite3` (it downloads a prebuilt module or compiles one, which needs python3, make and a C++ compiler)';

/**
 * What is wrong with better-sqlite3's native module, if that is why the database cannot be opened: it
 * is absent when the package was installed with `--ignore-scripts`, and does not load when it was built
 * for another Node.js version or platform.
 */
export function nativeModuleProblem(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (
    text.includes('Could not locate the bindings file') ||
    (code === 'MODULE_NOT_FOUND' && text.includes('better_sqlite3'))
  ) {
    return `better-sqlite3's native module is not built (was it installed with --ignore-scripts?): ${REBUILD}`;
  }
  if (text.includes('NODE_MODULE_VERSION') || code === 'ERR_DLOPEN_FAILED') {
    const first = text.split('\n')[0] ?? '';
    return `better-sqlite3's native module does not load in this Node.js ${process.version} (${first}): ${REBUILD}`;
  }
  return undefined;
}

/**
 * better-sqlite3, loaded the first time a file store opens: it is an optional dependency (its native
 * build may fail where there are no build tools), so a user who never sets `store` never needs it.
 */
function loadDriver(path: string): typeof Database {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' && !String((error as Error).message).includes('better_sqlite3.node')) {
      throw storeError(
        path,
        'needs the optional dependency better-sqlite3, which is not installed: run `npm install better-sqlite3@12` (its native build needs python3, make and a C++ compiler)',
        error,
      );
    }
    const problem = nativeModuleProblem(error);
    throw storeError(path, `cannot be opened${problem === undefined ? '' : `: ${problem}`}`, error);
  }
}

/** Payloads are read back as structured clone would give them (see encode in sqlite-writer.ts). */
const decode = (blob: Buffer | null): unknown => (blob === null ? undefined : deserialize(blob));

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Path of better-sqlite3's native module (`better_sqlite3.node`), passed to better-sqlite3 as its
   * `nativeBinding` option. Default: the one built in its package.
   */
  nativeBinding?: string;
}

/**
 * The durable state in one SQLite file (better-sqlite3, WAL). The orchestrator holds the file alone:
 * the connection uses exclusive locking mode and takes its write lock at open, so a second orchestrator
 * (in this process or another) is refused at once; the lock dies with the process, so a host killed
 * with SIGKILL leaves nothing to clean up. Nothing is written before the file has been checked (a
 * corrupt file, or one from a newer corral, is refused and left as it was).
 */
export class SqliteStore implements Store {
  readonly path: string;
  readonly #nativeBinding: string | undefined;
  #db: Database.Database | undefined;
  #writer: Writer | undefined;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.#nativeBinding = options.nativeBinding;
  }

  open(): StoredState {
    const db = this.#connect();
    try {
      this.#migrate(db);
      const state = this.#read(db);
      this.#writer = new Writer(db);
      this.#db = db;
      // A host killed before it gave space back leaves free pages: they go now.
      this.#writer.reclaim(true);
      return state;
    } catch (error) {
      db.close();
      this.#db = undefined;
      this.#writer = undefined;
      throw error instanceof OrchestratorError ? error : storeError(this.path, 'cannot be opened', error);
    }
  }

  apply(changes: readonly StoreChange[]): void {
    if (this.#writer === undefined) throw storeError(this.path, 'is not open');
    this.#writer.apply(changes);
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#writer = undefined;
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
    const Driver = loadDriver(path);
    let db: Database.Database;
    try {
      db = new Driver(path, {
        timeout: 0,
        ...(this.#nativeBinding === undefined ? {} : { nativeBinding: this.#nativeBinding }),
      });
    } catch (error) {
      const problem = nativeModuleProblem(error);
      throw storeError(path, `cannot be opened${problem === undefined ? '' : `: ${problem}`}`, error);
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
      db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
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
    // A new file: incremental auto-vacuum (free pages can be given back) must be set before any table.
    if (version === 0) db.pragma('auto_vacuum = INCREMENTAL');
    if (version < SCHEMA_VERSION) {
      db.transaction(() => {
        for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    // A file made before auto-vacuum was turned on: it takes a VACUUM, once.
    if (db.pragma('auto_vacuum', { simple: true }) !== AUTO_VACUUM_INCREMENTAL) {
      db.pragma('auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
    }
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
    const history = (db.prepare('SELECT * FROM history ORDER BY id').all() as HistoryRow[]).map(
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
}
