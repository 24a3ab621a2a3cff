// The SQLite store (src/store/sqlite.ts) on its own: every StoreChange written and read back, the
// history bound, and the refusals (ERR_STORE) that must leave someone else's file exactly as it was.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DeadLetter } from '../../src/index.ts';
import { resolveStore } from '../../src/store/resolve.ts';
import { nativeModuleProblem, SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.ts';
import { MIGRATIONS } from '../../src/store/sqlite-schema.ts';
import {
  HISTORY_PER_WORKER,
  type RunRecord,
  type StoreChange,
  type StoredRun,
  type StoredState,
  type StoredWorkerState,
} from '../../src/store/store.ts';
import { isCode, tmpFile } from '../helpers.ts';

function storedRun(id: string, seq: number, extra: Partial<StoredRun> = {}): StoredRun {
  return {
    id,
    seq,
    worker: 'w',
    origin: 'run',
    payload: { id },
    priority: 1,
    enqueuedAt: 1_700_000_000_000 + seq,
    attempts: 0,
    key: undefined,
    replayOf: undefined,
    ...extra,
  };
}

function deadLetter(id: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    name: 'w',
    payload: { id },
    reason: 'error',
    error: `Error: ${id} failed`,
    attempts: 2,
    failedAt: '2024-01-01T00:00:00.000Z',
    ...extra,
  };
}

function workerState(extra: Partial<StoredWorkerState> = {}): StoredWorkerState {
  return {
    manuallyEnabled: true,
    breaker: 'closed',
    consecutiveFailures: 0,
    cooldownUntil: undefined,
    lastRunAt: undefined,
    lastSuccessAt: undefined,
    lastEndedAt: undefined,
    lastError: undefined,
    lastFailureReason: undefined,
    totals: { runs: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0, crashes: 0 },
    ...extra,
  };
}

function historyRecord(worker: string, n: number): RunRecord {
  return {
    worker,
    runId: `${worker}-${n}`,
    origin: 'run',
    startedAt: 1000 + n,
    endedAt: 2000 + n,
    outcome: n % 3 === 0 ? 'failed' : 'succeeded',
    reason: n % 3 === 0 ? 'timeout' : undefined,
    attempts: 1 + (n % 2),
    durationMs: 1000,
  };
}

/** What JSON keeps of an object: keys whose value is undefined are gone (the worker state is JSON). */
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Opens, runs `body` and closes, even when `body` throws. */
function withStore<T>(path: string, body: (store: SqliteStore, state: StoredState) => T): T {
  const store = new SqliteStore(path);
  const state = store.open();
  try {
    return body(store, state);
  } finally {
    store.close();
  }
}

/** The companion files SQLite may create next to a database. */
function sideFiles(path: string): string[] {
  return ['-wal', '-shm', '-journal'].map((s) => path + s).filter((p) => existsSync(p));
}

/** Asserts that opening `path` is refused with ERR_STORE and leaves its bytes and directory as they were. */
function assertRefusedUntouched(path: string, ...inMessage: string[]): void {
  const before = readFileSync(path);
  assert.throws(() => new SqliteStore(path).open(), isCode('ERR_STORE', path, ...inMessage));
  assert.ok(readFileSync(path).equals(before), 'the refused file is left byte for byte as it was');
  assert.deepEqual(sideFiles(path), [], 'no -wal / -shm / -journal file is left next to it');
}

describe('SqliteStore', () => {
  it('creates a missing file and opens it empty', () => {
    const path = tmpFile('.db');
    withStore(path, (_store, state) => {
      assert.deepEqual(state, { runs: [], deadLetters: [], workers: {}, history: [] });
    });
    assert.ok(existsSync(path));
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('writes every change type and reads it back after a reopen', () => {
    const path = tmpFile('.db');
    const payload = {
      at: new Date(Date.UTC(2024, 4, 6, 7, 8, 9)),
      tags: new Map<string, unknown>([
        ['a', 1],
        ['b', new Set([1, 2])],
      ]),
      bytes: new Uint8Array([1, 2, 3]),
      big: 12345678901234567890n,
      nested: { list: [1, 'two', null] },
    };
    const r1 = storedRun('r1', 1, { payload, key: 'k1', priority: 3 });
    const r2 = storedRun('r2', 2, { origin: 'trigger', payload: undefined });
    const r3 = storedRun('r3', 3, { origin: 'replay', replayOf: 'd1' });
    const r4 = storedRun('r4', 4, { origin: 'pipeline', payload: 'gone soon' });
    const failing = workerState({
      manuallyEnabled: false,
      breaker: 'open',
      consecutiveFailures: 5,
      cooldownUntil: 1_700_000_123_456,
      lastRunAt: 1_700_000_000_001,
      lastEndedAt: 1_700_000_000_002,
      lastError: 'Error: boom',
      lastFailureReason: 'crash',
      totals: { runs: 9, succeeded: 4, failed: 5, retries: 7, timeouts: 1, crashes: 2 },
    });
    withStore(path, (store) => {
      store.apply([
        { type: 'run-queued', run: r1 },
        { type: 'run-queued', run: r2 },
        { type: 'run-queued', run: r3 },
        { type: 'run-queued', run: r4 },
        { type: 'dead-letter', entry: deadLetter('d1', { payload: { when: payload.at, m: payload.tags } }) },
        { type: 'dead-letter', entry: deadLetter('d2', { name: 'other' }) },
        { type: 'worker', name: 'w', state: workerState({ lastRunAt: 1 }) },
        { type: 'history', record: historyRecord('w', 1) },
      ]);
      // A second batch: attempts, the end of a run, an updated and a removed dead letter, a new one,
      // a worker's newer state, another worker.
      store.apply([
        { type: 'run-started', id: 'r1', attempts: 2 },
        { type: 'run-over', id: 'r4' },
        {
          type: 'dead-letter',
          entry: deadLetter('d1', {
            attempts: 4,
            error: 'Error: again',
            failedAt: '2024-02-02T00:00:00.000Z',
          }),
        },
        { type: 'dead-letter-removed', id: 'd2' },
        { type: 'dead-letter', entry: deadLetter('d3', { reason: 'timeout' }) },
        { type: 'worker', name: 'w', state: failing },
        { type: 'worker', name: 'v', state: workerState() },
        { type: 'history', record: historyRecord('w', 2) },
        { type: 'history', record: historyRecord('v', 3) },
      ]);
    });

    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.runs.map((r) => r.id),
        ['r1', 'r2', 'r3'],
        'runs in seq order, r4 over',
      );
      const [s1, s2, s3] = state.runs as [StoredRun, StoredRun, StoredRun];
      assert.deepEqual(s1, { ...r1, attempts: 2 });
      assert.ok((s1.payload as typeof payload).at instanceof Date, 'a Date stays a Date');
      assert.ok((s1.payload as typeof payload).tags instanceof Map, 'a Map stays a Map');
      assert.deepEqual(s2, r2);
      assert.equal(s2.payload, undefined);
      assert.deepEqual(s3, r3);

      assert.deepEqual(
        state.deadLetters.map((d) => d.id),
        ['d1', 'd3'],
        'oldest first; an update keeps its place',
      );
      const [d1, d3] = state.deadLetters as [DeadLetter, DeadLetter];
      assert.equal(d1.attempts, 4);
      assert.equal(d1.error, 'Error: again');
      assert.equal(d1.failedAt, '2024-02-02T00:00:00.000Z');
      assert.deepEqual(d1.payload, { when: payload.at, m: payload.tags });
      assert.deepEqual(d3, deadLetter('d3', { reason: 'timeout' }));

      assert.deepEqual(Object.keys(state.workers).sort(), ['v', 'w']);
      assert.deepEqual(state.workers.w, withoutUndefined(failing), 'the latest state of w');
      assert.deepEqual(state.workers.v, withoutUndefined(workerState()));

      assert.deepEqual(state.history, [historyRecord('w', 1), historyRecord('w', 2), historyRecord('v', 3)]);
    });
  });

  it('a dead letter put again after its removal goes to the end', () => {
    const path = tmpFile('.db');
    withStore(path, (store) => {
      store.apply([
        { type: 'dead-letter', entry: deadLetter('a') },
        { type: 'dead-letter', entry: deadLetter('b') },
        { type: 'dead-letter', entry: deadLetter('c') },
      ]);
      store.apply([{ type: 'dead-letter-removed', id: 'a' }]);
      store.apply([{ type: 'dead-letter', entry: deadLetter('a') }]);
      store.apply([{ type: 'dead-letter', entry: deadLetter('b', { attempts: 9 }) }]);
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.deadLetters.map((d) => [d.id, d.attempts]),
        [
          ['b', 9],
          ['c', 2],
          ['a', 2],
        ],
      );
    });
  });

  it(`keeps the newest ${HISTORY_PER_WORKER} history records per worker`, () => {
    const path = tmpFile('.db');
    const extra = 37;
    withStore(path, (store) => {
      // In several batches, and one worker interleaved with another that stays under the bound.
      for (let batch = 0; batch < 3; batch++) {
        const changes = [];
        for (let i = 0; i < (HISTORY_PER_WORKER + extra) / 3 + 1; i++) {
          const n = batch * 1000 + i;
          changes.push({ type: 'history' as const, record: historyRecord('busy', n) });
          if (i % 20 === 0) changes.push({ type: 'history' as const, record: historyRecord('calm', n) });
        }
        store.apply(changes);
      }
    });
    withStore(path, (_store, state) => {
      const busy = state.history.filter((h) => h.worker === 'busy');
      const calm = state.history.filter((h) => h.worker === 'calm');
      assert.equal(busy.length, HISTORY_PER_WORKER);
      let written = 0;
      for (let i = 0; i < (HISTORY_PER_WORKER + extra) / 3 + 1; i++) if (i % 20 === 0) written++;
      assert.ok(3 * written < HISTORY_PER_WORKER, 'the calm worker stays under the bound');
      assert.equal(calm.length, 3 * written, 'a worker under the bound keeps everything');
      // The newest ones, oldest first.
      const busyWritten: number[] = [];
      for (let batch = 0; batch < 3; batch++) {
        for (let i = 0; i < (HISTORY_PER_WORKER + extra) / 3 + 1; i++) busyWritten.push(batch * 1000 + i);
      }
      assert.deepEqual(
        busy.map((h) => h.runId),
        busyWritten.slice(-HISTORY_PER_WORKER).map((n) => `busy-${n}`),
      );
    });
  });

  it('a batch is atomic: a change that fails rolls the whole batch back', () => {
    const path = tmpFile('.db');
    withStore(path, (store) => {
      store.apply([{ type: 'run-queued', run: storedRun('ok', 1) }]);
      // A payload v8 cannot serialize (a function) throws inside the transaction.
      assert.throws(() =>
        store.apply([
          { type: 'run-queued', run: storedRun('first', 2) },
          { type: 'run-queued', run: storedRun('bad', 3, { payload: () => 1 }) },
        ]),
      );
      store.apply([{ type: 'run-queued', run: storedRun('after', 4) }]);
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.runs.map((r) => r.id),
        ['ok', 'after'],
      );
    });
  });

  it('apply before open or after close is refused with ERR_STORE', () => {
    const path = tmpFile('.db');
    const store = new SqliteStore(path);
    assert.throws(() => store.apply([{ type: 'run-over', id: 'x' }]), isCode('ERR_STORE', 'not open'));
    store.open();
    store.close();
    assert.throws(() => store.apply([{ type: 'run-over', id: 'x' }]), isCode('ERR_STORE', 'not open'));
    store.close(); // a second close is harmless
  });

  it('a second open of the same file while it is open is refused (ERR_STORE, locked); the first keeps working', () => {
    const path = tmpFile('.db');
    const first = new SqliteStore(path);
    first.open();
    try {
      first.apply([{ type: 'run-queued', run: storedRun('a', 1) }]);
      for (let i = 0; i < 2; i++) {
        assert.throws(() => new SqliteStore(path).open(), isCode('ERR_STORE', path, 'locked'));
      }
      // The refused connection closed its file: with POSIX locks that must not drop the first one's lock.
      assert.throws(() => new SqliteStore(path).open(), isCode('ERR_STORE', 'locked'));
      first.apply([
        { type: 'run-queued', run: storedRun('b', 2) },
        { type: 'run-started', id: 'a', attempts: 1 },
      ]);
    } finally {
      first.close();
    }
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.runs.map((r) => [r.id, r.attempts]),
        [
          ['a', 1],
          ['b', 0],
        ],
      );
    });
  });

  it('a file of random bytes is refused (ERR_STORE) and left untouched', () => {
    const path = tmpFile('.db');
    writeFileSync(path, randomBytes(16 * 1024));
    assertRefusedUntouched(path, 'corrupt');
  });

  it('a text file is refused (ERR_STORE) and left untouched', () => {
    const path = tmpFile('.db');
    writeFileSync(path, 'name,count\nalpha,1\nbeta,2\n'.repeat(500));
    assertRefusedUntouched(path, 'corrupt');
  });

  it('an empty file is taken as a new store', () => {
    const path = tmpFile('.db');
    writeFileSync(path, '');
    withStore(path, (_store, state) => assert.deepEqual(state.runs, []));
  });

  it('a store whose pages were damaged is refused (ERR_STORE) and left untouched', () => {
    const path = tmpFile('.db');
    withStore(path, (store) => {
      const changes = [];
      for (let i = 0; i < 200; i++) {
        changes.push({
          type: 'run-queued' as const,
          run: storedRun(`r${i}`, i, { payload: 'x'.repeat(500) }),
        });
      }
      store.apply(changes);
    });
    const bytes = readFileSync(path);
    assert.ok(bytes.length > 8192);
    // Keep page 1 (header and schema), overwrite everything after it.
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0xa5, pageSize);
    writeFileSync(path, bytes);
    assertRefusedUntouched(path, 'corrupt');
  });

  it('a store written by a newer corral (user_version 99) is refused and left untouched', () => {
    const path = tmpFile('.db');
    const db = new Database(path);
    db.exec('CREATE TABLE future (x INTEGER); INSERT INTO future VALUES (1);');
    db.pragma('user_version = 99');
    db.close();
    assertRefusedUntouched(path, 'newer', '99');
  });

  it('a newer store in WAL mode is refused and left untouched', () => {
    const path = tmpFile('.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE future (x INTEGER); INSERT INTO future VALUES (1);');
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assertRefusedUntouched(path, 'newer');
  });

  it('a file it may not read and write is refused (ERR_STORE)', (t) => {
    const path = tmpFile('.db');
    withStore(path, () => undefined);
    chmodSync(path, 0o000);
    try {
      let readable = true;
      try {
        readFileSync(path);
      } catch {
        readable = false;
      }
      if (readable) {
        t.skip(
          'running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not stop this process reading the file',
        );
        return;
      }
      assert.throws(() => new SqliteStore(path).open(), isCode('ERR_STORE', path));
    } finally {
      chmodSync(path, 0o600);
    }
  });

  it('a directory is refused (ERR_STORE)', () => {
    const path = tmpFile('.dir');
    mkdirSync(path);
    assert.throws(() => new SqliteStore(path).open(), isCode('ERR_STORE', path));
  });

  it('a path in a directory that does not exist is refused (ERR_STORE)', () => {
    const path = join(tmpFile('.missing'), 'nested', 'store.db');
    assert.throws(() => new SqliteStore(path).open(), isCode('ERR_STORE', path));
    assert.equal(existsSync(dirname(path)), false, 'no directory is created');
  });
});

/** Bytes of the store file and of its WAL (0 when there is none). */
function onDisk(path: string): { file: number; wal: number } {
  const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
  return { file: size(path), wal: size(`${path}-wal`) };
}

describe('SqliteStore: batches', () => {
  it('a run queued and over in the same batch is never written (its payload is not even encoded)', () => {
    const path = tmpFile('.db');
    withStore(path, (store) => {
      store.apply([
        // A payload v8 cannot serialize: writing it would throw and roll the batch back.
        { type: 'run-queued', run: storedRun('gone', 1, { payload: () => 1 }) },
        { type: 'run-started', id: 'gone', attempts: 1 },
        { type: 'run-queued', run: storedRun('kept', 2) },
        { type: 'run-over', id: 'gone' },
      ]);
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.runs.map((r) => r.id),
        ['kept'],
      );
    });
  });

  it('changes to the same run within a batch keep their order (over, then queued again)', () => {
    const path = tmpFile('.db');
    withStore(path, (store) => {
      store.apply([{ type: 'run-queued', run: storedRun('x', 1) }]);
      store.apply([
        { type: 'run-started', id: 'x', attempts: 1 },
        { type: 'run-over', id: 'x' },
        { type: 'run-queued', run: storedRun('x', 2, { attempts: 3 }) },
        { type: 'run-started', id: 'x', attempts: 4 },
      ]);
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.runs.map((r) => [r.id, r.seq, r.attempts]),
        [['x', 2, 4]],
      );
    });
  });

  it('large batches (more rows than one statement takes) are written whole', () => {
    const path = tmpFile('.db');
    const count = 203;
    withStore(path, (store) => {
      const first: StoreChange[] = [];
      for (let i = 0; i < count; i++) first.push({ type: 'run-queued', run: storedRun(`r${i}`, i) });
      store.apply(first);
      const second: StoreChange[] = [];
      for (let i = 0; i < count; i++) {
        if (i % 3 === 0) second.push({ type: 'run-over', id: `r${i}` });
        else second.push({ type: 'run-started', id: `r${i}`, attempts: 1 + (i % 2) });
      }
      for (let i = count; i < count + 70; i++)
        second.push({ type: 'run-queued', run: storedRun(`r${i}`, i) });
      store.apply(second);
    });
    withStore(path, (_store, state) => {
      const expected: [string, number][] = [];
      for (let i = 0; i < count + 70; i++) {
        if (i < count && i % 3 === 0) continue;
        expected.push([`r${i}`, i < count ? 1 + (i % 2) : 0]);
      }
      assert.deepEqual(
        state.runs.map((r) => [r.id, r.attempts]),
        expected,
      );
      assert.deepEqual(
        state.runs.map((r) => r.payload),
        expected.map(([id]) => ({ id })),
      );
    });
  });

  it(`the history ring: one batch of many records keeps the newest ${HISTORY_PER_WORKER}, and it goes on after a reopen`, () => {
    const path = tmpFile('.db');
    const batch = (worker: string, from: number, to: number): StoreChange[] => {
      const changes: StoreChange[] = [];
      for (let n = from; n < to; n++) changes.push({ type: 'history', record: historyRecord(worker, n) });
      return changes;
    };
    withStore(path, (store) => store.apply([...batch('a', 0, 45), ...batch('b', 0, 3)]));
    withStore(path, (store, state) => {
      assert.deepEqual(
        state.history.map((h) => h.runId),
        [
          ...Array.from({ length: HISTORY_PER_WORKER }, (_, i) => `a-${45 - HISTORY_PER_WORKER + i}`),
          'b-0',
          'b-1',
          'b-2',
        ],
      );
      store.apply(batch('a', 45, 52));
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.history.filter((h) => h.worker === 'a').map((h) => h.runId),
        Array.from({ length: HISTORY_PER_WORKER }, (_, i) => `a-${52 - HISTORY_PER_WORKER + i}`),
      );
      assert.equal(state.history.filter((h) => h.worker === 'b').length, 3);
    });
  });

  it('a failed batch leaves the history ring where it was', () => {
    const path = tmpFile('.db');
    withStore(path, (store) => {
      store.apply([{ type: 'history', record: historyRecord('w', 1) }]);
      assert.throws(() =>
        store.apply([
          { type: 'history', record: historyRecord('w', 2) },
          { type: 'run-queued', run: storedRun('bad', 1, { payload: () => 1 }) },
        ]),
      );
      store.apply([{ type: 'history', record: historyRecord('w', 3) }]);
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.history.map((h) => h.runId),
        ['w-1', 'w-3'],
      );
    });
  });
});

describe('SqliteStore: space', () => {
  it('gives space back: after a large payload is stored and removed, the file and its WAL shrink back', () => {
    const path = tmpFile('.db');
    const mb = 1024 * 1024;
    const big = new Uint8Array(24 * mb).fill(7);
    withStore(path, (store) => {
      store.apply([{ type: 'run-queued', run: storedRun('small', 1) }]);
      const empty = onDisk(path);
      store.apply([{ type: 'run-queued', run: storedRun('big', 2, { payload: big }) }]);
      const full = onDisk(path);
      assert.ok(full.file + full.wal > 24 * mb, `the payload is on disk (${JSON.stringify(full)})`);
      store.apply([{ type: 'dead-letter', entry: deadLetter('d', { payload: big }) }]);
      store.apply([{ type: 'run-started', id: 'big', attempts: 1 }]);
      store.apply([
        { type: 'run-over', id: 'big' },
        { type: 'dead-letter-removed', id: 'd' },
      ]);
      const after = onDisk(path);
      assert.ok(
        after.file + after.wal < empty.file + empty.wal + mb,
        `file + WAL back to their size before (${JSON.stringify(empty)} -> ${JSON.stringify(full)} -> ${JSON.stringify(after)})`,
      );
      store.apply([{ type: 'run-started', id: 'small', attempts: 1 }]);
    });
    withStore(path, (_store, state) => {
      assert.deepEqual(
        state.runs.map((r) => [r.id, r.attempts]),
        [['small', 1]],
      );
      assert.deepEqual(state.deadLetters, []);
    });
  });

  it('a store of schema 1 is migrated, keeps what it held (newest history per worker) and gets auto-vacuum', () => {
    const path = tmpFile('.db');
    const db = new Database(path);
    db.exec(MIGRATIONS[0] as string);
    db.prepare(
      `INSERT INTO runs (id, seq, worker, origin, payload, priority, enqueued_at, attempts, run_key, replay_of)
       VALUES ('r1', 1, 'w', 'run', NULL, 2, 5, 1, 'k', NULL)`,
    ).run();
    db.prepare(
      `INSERT INTO dead_letters (id, worker, payload, reason, error, attempts, failed_at, position)
       VALUES ('d1', 'w', NULL, 'error', 'E', 2, 'x', 1)`,
    ).run();
    db.prepare("INSERT INTO workers (name, state) VALUES ('w', ?)").run(JSON.stringify(workerState()));
    const insert = db.prepare(
      `INSERT INTO history (worker, run_id, origin, started_at, ended_at, outcome, reason, attempts, duration_ms)
       VALUES (?, ?, 'run', 1, 2, 'succeeded', NULL, 1, 1)`,
    );
    for (let n = 0; n < 30; n++) insert.run(n % 3 === 0 ? 'v' : 'w', `h${n}`);
    db.pragma('user_version = 1');
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 0);
    db.close();

    withStore(path, (store, state) => {
      assert.deepEqual(
        state.runs.map((r) => [r.id, r.attempts, r.key, r.payload]),
        [['r1', 1, 'k', undefined]],
      );
      assert.deepEqual(
        state.deadLetters.map((d) => d.id),
        ['d1'],
      );
      assert.deepEqual(state.workers.w, withoutUndefined(workerState()));
      const old = Array.from({ length: 30 }, (_, n) => n);
      const newest = (worker: string) =>
        old
          .filter((n) => (n % 3 === 0 ? 'v' : 'w') === worker)
          .slice(-HISTORY_PER_WORKER)
          .map((n) => `h${n}`);
      assert.deepEqual(
        state.history.map((h) => h.runId),
        old.map((n) => `h${n}`).filter((id) => newest('v').includes(id) || newest('w').includes(id)),
      );
      // The ring goes on from the migrated records: the oldest of w is overwritten next.
      store.apply([{ type: 'history', record: historyRecord('w', 99) }]);
    });
    withStore(path, (_store, state) => {
      const w = state.history.filter((h) => h.worker === 'w').map((h) => h.runId);
      assert.equal(w.length, HISTORY_PER_WORKER);
      assert.equal(w.at(-1), 'w-99');
      assert.ok(!w.includes('h1'), 'the oldest record of w gave way');
    });
    const after = new Database(path, { readonly: true });
    try {
      assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(after.pragma('auto_vacuum', { simple: true }), 2, 'incremental');
    } finally {
      after.close();
    }
  });
});

describe("SqliteStore: better-sqlite3's native module", () => {
  it('a missing native module is refused with ERR_STORE naming the cause and the fix', () => {
    const path = tmpFile('.db');
    const missing = join(dirname(path), 'no-such-build', 'better_sqlite3.node');
    assert.throws(
      () => new SqliteStore(path, { nativeBinding: missing }).open(),
      isCode('ERR_STORE', path, 'native module is not built', 'npm rebuild better-sqlite3', 'python3'),
    );
    assert.equal(existsSync(path), false, 'nothing is created');
    // The real module is untouched: the same path opens with it.
    withStore(path, (_store, state) => assert.deepEqual(state.runs, []));
  });

  it('names the cause for each way the module fails to load, and nothing for other errors', () => {
    const bindings = Object.assign(
      new Error('Could not locate the bindings file. Tried:\n → /x/build/better_sqlite3.node'),
      { tries: [] },
    );
    assert.match(nativeModuleProblem(bindings) ?? '', /not built.*npm rebuild better-sqlite3/);
    const abi = Object.assign(
      new Error(
        "The module '/x/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 108.",
      ),
      { code: 'ERR_DLOPEN_FAILED' },
    );
    assert.match(
      nativeModuleProblem(abi) ?? '',
      /does not load in this Node\.js.*npm rebuild better-sqlite3/,
    );
    assert.equal(nativeModuleProblem(new Error('SQLITE_CANTOPEN')), undefined);
    assert.equal(nativeModuleProblem('text'), undefined);
  });
});

describe('resolveStore (the store option)', () => {
  it("'memory' and undefined keep nothing; a path is a SqliteStore; a Store object is used as is", () => {
    assert.equal(resolveStore(undefined), undefined);
    assert.equal(resolveStore('memory'), undefined);
    const absolute = tmpFile('.db');
    const store = resolveStore(absolute);
    assert.ok(store instanceof SqliteStore);
    assert.equal(store.path, absolute);
    const custom = {
      open: () => ({ runs: [], deadLetters: [], workers: {}, history: [] }),
      apply() {},
      close() {},
    };
    assert.equal(resolveStore(custom), custom);
    assert.equal(existsSync(absolute), false, 'nothing is opened or created before open()');
  });

  it('a relative path resolves against process.cwd()', () => {
    const store = resolveStore('data/corral.db');
    assert.ok(store instanceof SqliteStore);
    assert.equal(store.path, resolve(process.cwd(), 'data/corral.db'));
  });
});
