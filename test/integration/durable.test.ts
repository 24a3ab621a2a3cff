// Durable state (README: Durable state): real SQLite files and real orchestrators restarted on them. Queued runs,
// dead letters, breaker and worker state, history and schedules survive a restart; keys join runs;
// ERR_STORE refuses what cannot be opened; a custom Store gets the same; and a host killed with
// SIGKILL in the middle of 2,000 runs loses none of them and leaves no child process behind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { TimerHandle } from '../../src/clock.ts';
import {
  type Clock,
  type DeadLetter,
  OrchestratorError,
  WorkerExecutionMode,
  type WorkerOptions,
  WorkerOrchestrator,
  type WorkerStatus,
} from '../../src/index.ts';
import { cronSchedule } from '../../src/scheduler/schedule.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store, StoreChange, StoredState } from '../../src/store/store.ts';
import {
  childrenOf,
  cmdline,
  fixture,
  isCode,
  isRunError,
  killLeftover,
  pidAlive,
  settle,
  spawnedChildren,
  tmpFile,
  tmpModule,
  useOrchestrator,
  waitFor,
} from '../helpers.ts';

const { TRIGGERED, SCHEDULED } = WorkerExecutionMode;
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const srcIndex = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const HOUR = 3_600_000;

/** A line record.mjs appended: { name, payload, t, pid }. */
interface RecordLine {
  name: string;
  payload: { id?: unknown; [k: string]: unknown };
  t: number;
  pid: number;
}

/** The complete lines of a JSON-lines file (one still being appended is left out). */
function readLines<T = RecordLine>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

const ids = (file: string) => readLines(file).map((line) => line.payload.id);

/** What the store file holds now (the orchestrator using it must have stopped: the file is locked). */
function storedIn(path: string): StoredState {
  const store = new SqliteStore(path);
  try {
    return store.open();
  } finally {
    store.close();
  }
}

/** The TRIGGERED record.mjs worker the restart tests use, in a thread. */
function registerRecorder(orch: WorkerOrchestrator, name = 'rec', options: WorkerOptions = {}): void {
  orch.registerWorker(name, fixture('record.mjs'), {
    executionMode: TRIGGERED,
    isolation: 'thread',
    timeoutSeconds: 30,
    ...options,
  });
}

function status(orch: WorkerOrchestrator, name: string) {
  const state = orch.getStatus().workerStates[name];
  assert.ok(state, `worker ${name} in the status`);
  return state;
}

async function idle(orch: WorkerOrchestrator, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    () => orch.getStatus().queued === 0 && orch.getStatus().running === 0,
    timeoutMs,
    'no run queued or running',
  );
}

// ------------------------------------------------------------------------------------------ runs

test('restart keeps queued runs: they run in the next orchestrator, in their original order, with their payloads', async (t) => {
  const db = tmpFile('.db');
  const out = tmpFile('.jsonl');
  const a = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1, shutdownTimeoutMs: 10_000 });
  registerRecorder(a);
  await a.start();

  const first = settle(a.run('rec', { file: out, id: 0, ms: 400 }));
  await waitFor(() => readLines(out).length === 1, 10_000, 'the first run started');
  const payloads = [1, 2, 3, 4, 5].map((id) => ({
    file: out,
    id,
    at: new Date(Date.UTC(2024, 0, id)),
    tags: new Map<string, unknown>([
      ['n', id],
      ['set', new Set([id])],
    ]),
  }));
  const queued = payloads.map((p) => settle(a.run('rec', p)));
  assert.equal(status(a, 'rec').queued, 5);

  const report = await a.stop();
  assert.equal(report.requeued, 5, 'the five queued runs are kept');
  assert.equal(report.dropped, 0);
  assert.deepEqual(report.completed, ['rec'], 'the run in flight finished inside the grace period');
  assert.equal((await first).ok, true);
  for (const outcome of await Promise.all(queued)) {
    assert.equal(outcome.ok, false);
    assert.ok(isRunError('aborted')((outcome as { error: unknown }).error));
  }
  assert.deepEqual(ids(out), [0], 'the kept runs did not run in the first orchestrator');

  // In the file between the two: the five runs, in order, payloads intact, nothing started.
  const kept = storedIn(db);
  assert.deepEqual(
    kept.runs.map((r) => [r.worker, r.origin, r.attempts]),
    payloads.map(() => ['rec', 'run', 0]),
  );
  assert.deepEqual(
    kept.runs.map((r) => r.payload),
    payloads,
  );

  const b = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1 });
  registerRecorder(b);
  const results: unknown[] = [];
  b.on('worker:success', (e) => results.push(e.result));
  await b.start();
  await idle(b);
  assert.deepEqual(ids(out), [0, 1, 2, 3, 4, 5], 'each kept run ran once, in its original order');
  assert.deepEqual(results, payloads, 'Dates and Maps of the payloads survived the file and the thread');
  assert.equal(status(b, 'rec').totals.runs, 6, 'totals carried over: 1 run in A, 5 in B');
  const stopped = await b.stop();
  assert.equal(stopped.requeued, 0);
  assert.deepEqual(storedIn(db).runs, [], 'nothing left in the file');
});

test('runs kept over two restarts keep their original order (new runs queue behind restored ones)', async (t) => {
  const db = tmpFile('.db');
  const out = tmpFile('.jsonl');
  const warm = tmpFile('.jsonl');
  const make = () => {
    const orch = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1, shutdownTimeoutMs: 50 });
    registerRecorder(orch);
    return orch;
  };
  // A: some runs first (the orchestrator's sequence numbers move on), then 0 in flight, 1-3 queued.
  const a = make();
  await a.start();
  for (let i = 0; i < 10; i++) await a.run('rec', { file: warm });
  const pending = [settle(a.run('rec', { file: out, id: 0, ms: 1500 }))];
  await waitFor(() => ids(out).length === 1, 10_000, 'run 0 started in A');
  for (const id of [1, 2, 3]) pending.push(settle(a.run('rec', { file: out, id })));
  assert.equal((await a.stop()).requeued, 4, 'run 0 (terminated) and 1-3 (queued) kept');

  // B: the restored run 0 holds the only slot; 4 and 5 are asked for after 1-3 and queue behind them.
  const b = make();
  await b.start();
  await waitFor(() => ids(out).length === 2, 10_000, 'run 0 started again in B');
  for (const id of [4, 5]) pending.push(settle(b.run('rec', { file: out, id })));
  assert.equal((await b.stop()).requeued, 6);
  await Promise.all(pending);

  // C: everything runs, in the order it was asked for.
  const c = make();
  await c.start();
  await idle(c);
  assert.deepEqual(ids(out).slice(2), [0, 1, 2, 3, 4, 5], `order in C: ${JSON.stringify(ids(out))}`);
});

// ---------------------------------------------------------------------------------- dead letters

test('dead letters survive restarts; list, remove and replay work across them', async (t) => {
  const db = tmpFile('.db');
  /** A TRIGGERED inline worker failing for the payloads `fails` accepts, else returning payload.n. */
  const make = (fails: (n: number) => boolean) => {
    const orch = useOrchestrator(t, { store: db });
    orch.registerWorker(
      'job',
      (ctx) => {
        const { n } = ctx.payload as { n: number };
        if (fails(n)) throw new Error(`job ${n} failed`);
        return n * 10;
      },
      { executionMode: TRIGGERED, maxRetries: 1, retryDelayMs: 0, maxConsecutiveFailures: 100 },
    );
    return orch;
  };
  const payload = (n: number) => ({ n, at: new Date(Date.UTC(2024, 5, n)), list: [n, `${n}`] });

  const a = make(() => true);
  await a.start();
  for (const n of [1, 2, 3]) await assert.rejects(a.run('job', payload(n)), isRunError('error', 2));
  const recorded = a.deadLetters.list();
  assert.equal(recorded.length, 3);
  await a.stop();

  const b = make((n) => n === 3);
  await b.start();
  assert.deepEqual(b.deadLetters.list(), recorded, 'the same entries, ids, payloads and order');
  assert.ok(
    (b.deadLetters.list()[0] as DeadLetter & { payload: { at: unknown } }).payload.at instanceof Date,
  );
  const [d1, d2, d3] = recorded as [DeadLetter, DeadLetter, DeadLetter];
  assert.equal(b.deadLetters.remove(d2.id), true);
  assert.equal(b.deadLetters.remove(d2.id), false);
  assert.equal(await b.deadLetters.replay(d1.id), 10, 'a successful replay resolves with the result');
  await assert.rejects(b.deadLetters.replay(d3.id), isRunError('error', 2));
  const left = b.deadLetters.list();
  assert.deepEqual(
    left.map((d) => d.id),
    [d3.id],
    'one entry left: the failed replay updated it, not added one',
  );
  assert.ok((left[0] as DeadLetter).failedAt >= d3.failedAt);
  await b.stop();

  const c = make(() => false);
  await c.start();
  assert.deepEqual(c.deadLetters.list(), left, 'removal, replay and update all reached the file');
  assert.equal(await c.deadLetters.replay(d3.id), 30);
  assert.deepEqual(c.deadLetters.list(), []);
  await c.stop();

  const d = make(() => false);
  await d.start();
  assert.deepEqual(d.deadLetters.list(), [], 'a successful replay removed it from the file');
  await d.stop();
  assert.deepEqual(storedIn(db).deadLetters, []);
});

test('a replay kept at stop runs after the restart and removes its dead letter; evictions reach the file', async (t) => {
  const db = tmpFile('.db');
  let failing = true;
  const make = () => {
    const orch = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1, maxDeadLetters: 2 });
    orch.registerWorker(
      'job',
      (ctx) => {
        if (failing) throw new Error('failed');
        return ctx.payload;
      },
      { executionMode: TRIGGERED, maxRetries: 0, maxConsecutiveFailures: 100 },
    );
    orch.registerWorker('hog', () => sleep(200), { executionMode: TRIGGERED });
    return orch;
  };
  const a = make();
  await a.start();
  for (const n of [1, 2, 3]) await assert.rejects(a.run('job', n), isRunError('error'));
  assert.deepEqual(
    a.deadLetters.list().map((d) => d.payload),
    [2, 3],
    'the oldest was evicted (maxDeadLetters 2)',
  );
  const [first] = a.deadLetters.list() as [DeadLetter];
  const hog = settle(a.run('hog'));
  const replay = settle(a.deadLetters.replay(first.id)); // waits behind the hog
  const report = await a.stop();
  assert.equal(report.requeued, 1);
  assert.equal((await hog).ok, true);
  assert.ok(isRunError('aborted')(((await replay) as { error: unknown }).error));
  const between = storedIn(db);
  assert.deepEqual(
    between.deadLetters.map((d) => d.payload),
    [2, 3],
    'the eviction reached the file',
  );
  assert.deepEqual(
    between.runs.map((r) => [r.origin, r.replayOf]),
    [['replay', first.id]],
  );

  failing = false;
  const b = make();
  await b.start();
  await idle(b);
  assert.deepEqual(
    b.deadLetters.list().map((d) => d.payload),
    [3],
    'the kept replay succeeded and removed its entry',
  );
  await b.stop();
  assert.deepEqual(
    storedIn(db).deadLetters.map((d) => d.payload),
    [3],
  );
});

// ------------------------------------------------------------------------- breaker, worker state

test('breaker, disableWorker(), last run times, totals and history persist across a restart', async (t) => {
  const db = tmpFile('.db');
  const make = () => {
    const orch = useOrchestrator(t, { store: db });
    const common = { executionMode: TRIGGERED, maxRetries: 0, retryDelayMs: 0 } as const;
    orch.registerWorker(
      'bad',
      () => {
        throw new Error('bad always fails');
      },
      { ...common, maxConsecutiveFailures: 2 },
    );
    orch.registerWorker('off', () => 'off ran', common);
    orch.registerWorker('good', (ctx) => ctx.payload, common);
    return orch;
  };
  const a = make();
  await a.start();
  await assert.rejects(a.run('bad'), isRunError('error', 1));
  await assert.rejects(a.run('bad'), isRunError('error', 1));
  assert.equal(status(a, 'bad').breaker, 'open');
  assert.equal(await a.run('good', 'hello'), 'hello');
  assert.equal(await a.run('off'), 'off ran');
  a.disableWorker('off');
  const before = a.getStatus().workerStates;
  const history = a.getHistory();
  assert.equal(history.length, 4);
  await a.stop();

  const b = make();
  await b.start();
  const after = b.getStatus().workerStates;
  const kept = (state: WorkerStatus | undefined) => {
    assert.ok(state);
    const { enabled, failures, breaker, lastRun, lastSuccess, lastError, lastFailureReason, totals } = state;
    return { enabled, failures, breaker, lastRun, lastSuccess, lastError, lastFailureReason, totals };
  };
  for (const name of ['bad', 'off', 'good']) {
    assert.deepEqual(kept(after[name]), kept(before[name]), `the state of ${name} came back`);
  }
  const bad = status(b, 'bad');
  assert.equal(bad.enabled, false);
  assert.equal(bad.breaker, 'open');
  assert.equal(bad.failures, 2);
  assert.match(bad.lastError ?? '', /bad always fails/);
  assert.equal(bad.lastFailureReason, 'error');
  assert.deepEqual(bad.totals, { runs: 2, succeeded: 0, failed: 2, retries: 0, timeouts: 0, crashes: 0 });
  assert.equal(b.getWorker('bad')?.isEnabled, false);
  assert.equal(b.getWorker('bad')?.consecutiveFailures, 2);
  await assert.rejects(b.run('bad'), isCode('ERR_WORKER_DISABLED', 'bad'));
  assert.equal(await b.triggerWorker('bad'), false);

  const off = status(b, 'off');
  assert.equal(off.enabled, false, 'disableWorker() persisted');
  assert.equal(off.breaker, 'closed');
  await assert.rejects(b.run('off'), isCode('ERR_WORKER_DISABLED', 'off'));

  const good = status(b, 'good');
  assert.ok(good.lastSuccess !== undefined && good.lastSuccess === before.good?.lastSuccess);
  assert.equal(good.totals.succeeded, 1);

  assert.deepEqual(b.getHistory(), history, 'getHistory() came back from the file');
  assert.deepEqual(
    b.getHistory('bad').map((r) => [r.outcome, r.reason, r.attempts, r.origin]),
    [
      ['failed', 'error', 1, 'run'],
      ['failed', 'error', 1, 'run'],
    ],
  );

  // Enabling persists too.
  b.enableWorker('bad');
  b.enableWorker('off');
  assert.equal(await b.run('good', 2), 2);
  await b.stop();
  const c = make();
  await c.start();
  for (const name of ['bad', 'off']) {
    assert.equal(status(c, name).enabled, true, `${name} enabled again`);
    assert.equal(status(c, name).breaker, 'closed');
    assert.equal(status(c, name).failures, 0);
  }
  assert.equal(c.getHistory().length, 5);
  assert.equal(await c.run('off'), 'off ran');
});

test('breakerCooldownSeconds: the half-open trial comes after the cooldown, even across a restart', async (t) => {
  const db = tmpFile('.db');
  const cooldownMs = 1500;
  let failing = true;
  const make = () => {
    const orch = useOrchestrator(t, { store: db });
    orch.registerWorker(
      'flaky',
      () => {
        if (failing) throw new Error('not yet');
        return 'recovered';
      },
      {
        executionMode: TRIGGERED,
        maxRetries: 0,
        maxConsecutiveFailures: 1,
        breakerCooldownSeconds: cooldownMs / 1000,
      },
    );
    return orch;
  };
  const a = make();
  let openedAt = 0;
  a.on('worker:disabled', () => {
    openedAt = Date.now();
  });
  await a.start();
  await assert.rejects(a.run('flaky'), isRunError('error'));
  assert.ok(openedAt > 0);
  assert.equal(status(a, 'flaky').breaker, 'open');
  await a.stop();
  failing = false;

  const b = make();
  await b.start();
  assert.ok(Date.now() < openedAt + cooldownMs - 200, 'restarted well inside the cooldown');
  assert.equal(status(b, 'flaky').breaker, 'open', 'still open after the restart');
  await assert.rejects(b.run('flaky'), isCode('ERR_WORKER_DISABLED'));
  await waitFor(
    () => status(b, 'flaky').breaker === 'half-open',
    cooldownMs + 5000,
    'half-open after the cooldown',
  );
  const waited = Date.now() - openedAt;
  assert.ok(waited >= cooldownMs - 5, `half-open ${waited} ms after opening: not before the cooldown`);
  assert.equal(status(b, 'flaky').enabled, true);
  assert.equal(await b.run('flaky'), 'recovered', 'the trial');
  assert.equal(status(b, 'flaky').breaker, 'closed');
  assert.equal(status(b, 'flaky').failures, 0);
});

test('breakerCooldownSeconds: a breaker half-open at stop still gets its trial after the restart', async (t) => {
  const db = tmpFile('.db');
  let failing = true;
  const make = () => {
    const orch = useOrchestrator(t, { store: db });
    orch.registerWorker(
      'flaky',
      () => {
        if (failing) throw new Error('not yet');
        return 'recovered';
      },
      { executionMode: TRIGGERED, maxRetries: 0, maxConsecutiveFailures: 1, breakerCooldownSeconds: 0.2 },
    );
    return orch;
  };
  const a = make();
  await a.start();
  await assert.rejects(a.run('flaky'), isRunError('error'));
  // A TRIGGERED worker waits half-open for its next request; the host stops before one comes.
  await waitFor(() => status(a, 'flaky').breaker === 'half-open', 5000, 'half-open in A');
  await a.stop();
  failing = false;

  const b = make();
  await b.start();
  // The notes: a half-open breaker comes back 'open'. With a cooldown configured it must not stay
  // open for good: README, breakerCooldownSeconds "a number: after it, one half-open trial run".
  await waitFor(
    () => status(b, 'flaky').breaker !== 'open',
    5000,
    'the breaker leaves open (a cooldown of 0.2 s) after the restart',
  );
  assert.equal(await b.run('flaky'), 'recovered');
});

test('disableWorker() / enableWorker() called while stopped are honoured and kept with a store', async (t) => {
  const db = tmpFile('.db');
  const writesRefused: string[] = [];
  const logger = (await import('pino')).default(
    { level: 'error' },
    { write: (line: string) => writesRefused.push(line) },
  );
  const make = () => {
    const orch = new WorkerOrchestrator({ store: db, logger });
    t.after(() => orch.stop());
    orch.registerWorker('w', () => 'ran', { executionMode: TRIGGERED });
    return orch;
  };
  const a = make();
  await a.start();
  assert.equal(await a.run('w'), 'ran');
  await a.stop();

  // Before start (configuration at boot) ...
  const b = make();
  b.disableWorker('w');
  await b.start();
  assert.equal(status(b, 'w').enabled, false, 'disableWorker() before start() is not undone by the store');
  await b.stop();
  // ... and between stop() and start().
  b.enableWorker('w');
  await b.start();
  assert.equal(status(b, 'w').enabled, true, 'enableWorker() while stopped is not undone by the store');
  await b.stop();
  assert.deepEqual(writesRefused, [], 'no write was sent to a closed store');
});

test('a payload the store cannot keep does not take the other runs of its batch with it', async (t) => {
  const db = tmpFile('.db');
  const orch = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1 });
  orch.registerWorker('w', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  orch.registerWorker('hog', () => sleep(200), { executionMode: TRIGGERED });
  await orch.start();
  const hog = settle(orch.run('hog'));
  // In the same turn: a payload v8 serializes, and one it cannot (a function; fine for an inline worker).
  const good = settle(orch.run('w', { n: 1 }));
  const odd = settle(orch.run('w', { n: 2, callback: () => 1 }));
  await orch.flush();
  const report = await orch.stop();
  await Promise.all([hog, good, odd]);
  const kept = storedIn(db).runs.map((r) => r.payload);
  assert.deepEqual(kept, [{ n: 1 }], 'the run with a storable payload is in the file');
  assert.equal(report.requeued, kept.length, 'requeued counts the runs actually kept');
});

// ---------------------------------------------------------------------------------- scheduling

test('an interval worker that ran recently is not run again at the next start (store)', async (t) => {
  const db = tmpFile('.db');
  const runs = { a: 0, b: 0 };
  const make = (which: 'a' | 'b') => {
    const orch = useOrchestrator(t, { store: db });
    orch.registerWorker(
      'hourly',
      () => {
        runs[which]++;
      },
      { executionMode: SCHEDULED, intervalSeconds: 3600 },
    );
    return orch;
  };
  const a = make('a');
  await a.start();
  await waitFor(
    () => status(a, 'hourly').totals.runs === 1 && !status(a, 'hourly').running,
    5000,
    'ran at start',
  );
  const lastRun = Date.parse(status(a, 'hourly').lastRun as string);
  await a.stop();

  const b = make('b');
  await b.start();
  await sleep(300);
  assert.equal(runs.b, 0, 'not re-run at start: it ran a moment ago');
  const next = Date.parse(status(b, 'hourly').nextRunAt as string);
  // lastEndedAt + 1 h, and the run took a few ms at most.
  assert.ok(
    next >= lastRun + HOUR && next <= lastRun + HOUR + 2000,
    `nextRunAt ${next - lastRun} ms after lastRun`,
  );
  assert.equal(status(b, 'hourly').totals.runs, 1);
});

/** A clock `offset` ms ahead of the real one; timers are real timers (fake time passes at real speed). */
class ShiftedClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  /** Makes now() read `fakeNow` from here on. */
  setNow(fakeNow: number): void {
    this.offset = fakeNow - Date.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return setTimeout(fn, Math.max(0, ms));
  }
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  }
}

test("missedRuns with an injected clock: a restart 90 min later runs 'once' workers at start and not 'skip' ones", async (t) => {
  const db = tmpFile('.db');
  const HOURLY = '0 0 * * * *';
  const names = ['iOnce', 'iSkip', 'iDefault', 'cOnce', 'cSkip'] as const;
  type Name = (typeof names)[number];
  const make = (clock: Clock, runs: Record<Name, number>) => {
    const orch = useOrchestrator(t, { store: db, clock });
    const add = (name: Name, options: WorkerOptions) =>
      orch.registerWorker(
        name,
        () => {
          runs[name]++;
        },
        { executionMode: SCHEDULED, ...options },
      );
    add('iOnce', { intervalSeconds: 3600, missedRuns: 'once' });
    add('iSkip', { intervalSeconds: 3600, missedRuns: 'skip' });
    add('iDefault', { intervalSeconds: 3600 });
    add('cOnce', { cron: HOURLY, missedRuns: 'once' });
    add('cSkip', { cron: HOURLY, missedRuns: 'skip' });
    return orch;
  };
  const zero = (): Record<Name, number> => ({ iOnce: 0, iSkip: 0, iDefault: 0, cOnce: 0, cSkip: 0 });
  const at = (orch: WorkerOrchestrator, name: Name, field: 'lastRun' | 'nextRunAt') =>
    Date.parse(status(orch, name)[field] as string);

  // A at fake time T = 400 ms before a full hour: interval workers run at start, cron ones at the hour.
  const hour = cronSchedule(HOURLY).first(Date.UTC(2031, 0, 1, 0, 30));
  const clockA = new ShiftedClock();
  clockA.setNow(hour - 400);
  const runsA = zero();
  const a = make(clockA, runsA);
  await a.start();
  await waitFor(() => names.every((n) => runsA[n] === 1), 5000, 'every worker ran once in A');
  assert.ok(Math.abs(at(a, 'cOnce', 'lastRun') - hour) < 1000, 'the cron workers ran at the hour');
  assert.ok(Math.abs(at(a, 'iSkip', 'lastRun') - (hour - 400)) < 1000, 'the interval workers at start');
  const iSkipLastRun = at(a, 'iSkip', 'lastRun');
  await a.stop();

  // B 90 minutes later (fake): one interval and one cron time were missed while down.
  const clockB = new ShiftedClock();
  clockB.setNow(hour + 90 * 60_000);
  const runsB = zero();
  const b = make(clockB, runsB);
  await b.start();
  await waitFor(
    () => runsB.iOnce === 1 && runsB.iDefault === 1 && runsB.cOnce === 1,
    5000,
    "'once' (and default) workers run at start",
  );
  await sleep(300);
  assert.equal(runsB.iSkip, 0, "'skip' interval worker does not run at start");
  assert.equal(runsB.cSkip, 0, "'skip' cron worker does not run at start");
  assert.equal(runsB.iOnce + runsB.iDefault + runsB.cOnce, 3, 'and each missed worker runs once only');

  // 'skip': the next point of its series. Interval: lastEnded + k h with lastEnded ≈ hour - 400 ms (+ a
  // few ms): k = 1 (≈ hour + 1 h) was missed, k = 2 (≈ hour + 2 h) is the first ahead of B's hour + 90 min.
  const iSkipNext = at(b, 'iSkip', 'nextRunAt');
  assert.ok(iSkipNext > clockB.now(), 'ahead of now');
  assert.ok(
    iSkipNext >= iSkipLastRun + 2 * HOUR && iSkipNext <= iSkipLastRun + 2 * HOUR + 1000,
    `iSkip nextRunAt ${(iSkipNext - iSkipLastRun) / HOUR} h after its last run`,
  );
  assert.equal(at(b, 'cSkip', 'nextRunAt'), hour + 2 * HOUR, 'cron skip: the next cron time');
  // The 'once' workers ran now: interval next due an hour after that run, cron at its next time.
  const iOnceNext = at(b, 'iOnce', 'nextRunAt');
  assert.ok(Math.abs(iOnceNext - (clockB.now() + HOUR)) < 2000, 'iOnce next due 1 h after its run in B');
  assert.equal(at(b, 'cOnce', 'nextRunAt'), hour + 2 * HOUR);
  await b.stop();

  // C ten minutes after B (fake): nothing is due, nothing runs early.
  const clockC = new ShiftedClock();
  clockC.setNow(hour + 100 * 60_000);
  const runsC = zero();
  const c = make(clockC, runsC);
  await c.start();
  await sleep(300);
  assert.deepEqual(runsC, zero(), 'nothing was missed between B and C');
  assert.ok(Math.abs(at(c, 'iOnce', 'nextRunAt') - iOnceNext) < 50);
  assert.equal(at(c, 'iSkip', 'nextRunAt'), iSkipNext);
});

test('without a store an interval worker runs at every start()', async (t) => {
  const orch = useOrchestrator(t);
  let runs = 0;
  orch.registerWorker(
    'hourly',
    () => {
      runs++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 3600 },
  );
  for (let round = 1; round <= 3; round++) {
    await orch.start();
    await waitFor(() => runs === round, 5000, `run at start number ${round}`);
    await orch.stop();
  }
  const other = useOrchestrator(t);
  other.registerWorker(
    'hourly',
    () => {
      runs++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 3600 },
  );
  await other.start();
  await waitFor(() => runs === 4, 5000, 'a new orchestrator runs it at start too');
});

// ---------------------------------------------------------------------------------------- keys

test('run() with a key joins a run still queued or running: one execution, the same result', async (t) => {
  const out = tmpFile('.jsonl');
  const hogFile = tmpFile('.jsonl');
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 1 });
  registerRecorder(orch);
  registerRecorder(orch, 'hog');
  await orch.start();

  // Joined while queued (the only slot is busy).
  const hog = settle(orch.run('hog', { file: hogFile, ms: 300 }));
  const p1 = settle(orch.run('rec', { file: out, id: 'first', ms: 30 }, { key: 'k' }));
  const p2 = settle(orch.run('rec', { file: out, id: 'second' }, { key: 'k' }));
  assert.equal(status(orch, 'rec').queued, 1, 'one queued run, not two');
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.ok(r1.ok && r2.ok, JSON.stringify([r1, r2]));
  assert.deepEqual(r1.value, { file: out, id: 'first', ms: 30 });
  assert.deepEqual(r2.value, r1.value, 'the joined caller gets the same result');
  assert.deepEqual(ids(out), ['first'], 'one execution');
  assert.equal((await hog).ok, true);

  // Once it ended, the same key runs again.
  assert.deepEqual(await orch.run('rec', { file: out, id: 'again' }, { key: 'k' }), {
    file: out,
    id: 'again',
  });
  assert.deepEqual(ids(out), ['first', 'again']);

  // Joined while running; a joined caller's signal withdraws that caller only.
  const p3 = settle(orch.run('rec', { file: out, id: 'long', ms: 400 }, { key: 'k2' }));
  await waitFor(() => ids(out).length === 3, 10_000, 'the keyed run started');
  let p3Settled = false;
  void p3.then(() => {
    p3Settled = true;
  });
  const p4 = settle(orch.run('rec', { file: out, id: 'late' }, { key: 'k2' }));
  const controller = new AbortController();
  const p5 = settle(orch.run('rec', { file: out, id: 'quitter' }, { key: 'k2', signal: controller.signal }));
  controller.abort();
  const r5 = await p5;
  assert.equal(p3Settled, false, 'the quitter is rejected at once, while the run goes on');
  assert.ok(!r5.ok && isRunError('aborted')(r5.error));
  const [r3, r4] = await Promise.all([p3, p4]);
  assert.ok(r3.ok && r4.ok, JSON.stringify([r3, r4]));
  assert.deepEqual(r3.value, { file: out, id: 'long', ms: 400 });
  assert.deepEqual(r4.value, r3.value);
  assert.deepEqual(ids(out), ['first', 'again', 'long'], 'still one execution for k2');
  assert.equal(status(orch, 'rec').totals.runs, 3);

  // The same key on another worker, or no key, does not join.
  const p6 = settle(orch.run('rec', { file: out, id: 'r', ms: 100 }, { key: 'shared' }));
  const p7 = settle(orch.run('hog', { file: out, id: 'h' }, { key: 'shared' }));
  const p8 = settle(orch.run('rec', { file: out, id: 'nokey' }));
  for (const r of await Promise.all([p6, p7, p8])) assert.equal(r.ok, true);
  assert.deepEqual(ids(out).slice(3).sort(), ['h', 'nokey', 'r']);

  await assert.rejects(orch.run('rec', { file: out }, { key: '' }), isCode('ERR_INVALID_OPTION', 'key'));
});

test('run() with a key: a failing run rejects every caller with the same reason, one dead letter', async (t) => {
  const orch = useOrchestrator(t);
  let calls = 0;
  orch.registerWorker(
    'fails',
    async () => {
      calls++;
      await sleep(50);
      throw new Error('no luck');
    },
    { executionMode: TRIGGERED, maxRetries: 1, retryDelayMs: 0 },
  );
  await orch.start();
  const outcomes = await Promise.all([
    settle(orch.run('fails', 1, { key: 'x' })),
    settle(orch.run('fails', 2, { key: 'x' })),
  ]);
  for (const outcome of outcomes) {
    assert.ok(!outcome.ok && isRunError('error', 2)(outcome.error));
  }
  assert.equal(calls, 2, 'one run of two attempts');
  assert.equal(orch.deadLetters.list().length, 1);
});

test('keys survive a restart: a call after the restart joins the kept run', async (t) => {
  const db = tmpFile('.db');
  const out = tmpFile('.jsonl');
  const hogFile = tmpFile('.jsonl');
  const a = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1, shutdownTimeoutMs: 10_000 });
  registerRecorder(a);
  registerRecorder(a, 'hog');
  await a.start();
  const hog = settle(a.run('hog', { file: hogFile, ms: 200 }));
  const kept = settle(a.run('rec', { file: out, id: 'kept', ms: 200 }, { key: 'order-7' }));
  assert.equal((await a.stop()).requeued, 1);
  assert.equal((await hog).ok, true);
  assert.equal((await kept).ok, false);

  const b = useOrchestrator(t, { store: db, maxConcurrentWorkers: 1 });
  registerRecorder(b);
  registerRecorder(b, 'hog');
  await b.start();
  const joined = await b.run('rec', { file: out, id: 'duplicate' }, { key: 'order-7' });
  assert.deepEqual(joined, { file: out, id: 'kept', ms: 200 }, "the kept run's result");
  assert.deepEqual(ids(out), ['kept'], 'one execution');
});

// ------------------------------------------------------------------------------------- ERR_STORE

test('ERR_STORE: a file another orchestrator holds is refused at start(); the holder keeps working', async (t) => {
  const db = tmpFile('.db');
  const holder = useOrchestrator(t, { store: db });
  holder.registerWorker('w', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  await holder.start();
  assert.equal(await holder.run('w', 1), 1);

  const intruder = useOrchestrator(t, { store: db });
  intruder.registerWorker('w', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  await assert.rejects(intruder.start(), isCode('ERR_STORE', db, 'locked'));
  assert.equal(intruder.getStatus().state, 'stopped');
  await assert.rejects(intruder.run('w', 1), isCode('ERR_NOT_RUNNING'));
  await assert.rejects(intruder.start(), isCode('ERR_STORE', 'locked'), 'refused again');

  assert.equal(await holder.run('w', 2), 2, 'the holder works on');
  await holder.flush();
  await holder.stop();

  await intruder.start();
  assert.equal(intruder.getHistory('w').length, 2, "once released, the file opens with the holder's state");
  await intruder.stop();
});

test('start() called twice at once with a file store: the second call is not refused by its own lock', async (t) => {
  const db = tmpFile('.db');
  const orch = useOrchestrator(t, { store: db });
  orch.registerWorker('w', () => 1, { executionMode: TRIGGERED });
  const outcomes = await Promise.all([settle(orch.start()), settle(orch.start())]);
  assert.deepEqual(
    outcomes.map((o) => (o.ok ? 'ok' : String(o.error))),
    ['ok', 'ok'],
  );
  assert.equal(orch.getStatus().state, 'running');
});

test('start() called twice at once with an async custom store: opened once, its kept run runs once', async (t) => {
  let opens = 0;
  let runs = 0;
  const custom = useOrchestrator(t, {
    store: {
      async open() {
        opens++;
        await sleep(5);
        const state = emptyState();
        state.runs.push({
          id: 'kept',
          seq: 1,
          worker: 'w',
          origin: 'run',
          payload: 1,
          priority: 1,
          enqueuedAt: 0,
          attempts: 0,
          key: undefined,
          replayOf: undefined,
        });
        return state;
      },
      apply() {},
      close() {},
    },
  });
  custom.registerWorker(
    'w',
    () => {
      runs++;
    },
    { executionMode: TRIGGERED },
  );
  await Promise.all([settle(custom.start()), settle(custom.start())]);
  await idle(custom);
  await sleep(50);
  assert.equal(opens, 1, 'open() called once');
  assert.equal(runs, 1, 'the kept run ran once');
});

test('ERR_STORE: a corrupt file is refused at start() and left untouched', async (t) => {
  for (const content of [randomBytes(8192), Buffer.from('{"not": "a database"}\n'.repeat(200))]) {
    const db = tmpFile('.db');
    writeFileSync(db, content);
    const orch = useOrchestrator(t, { store: db });
    orch.registerWorker('w', () => 1, { executionMode: TRIGGERED });
    await assert.rejects(orch.start(), isCode('ERR_STORE', db));
    assert.equal(orch.getStatus().state, 'stopped');
    assert.ok(readFileSync(db).equals(content), 'the file is byte for byte as it was');
    assert.equal(existsSync(`${db}-wal`) || existsSync(`${db}-shm`), false, 'no -wal / -shm left');
    assert.deepEqual(await orch.stop(), { completed: [], terminated: [], requeued: 0, dropped: 0 });
  }
});

test('ERR_STORE: a store of a newer schema is refused at start()', async (t) => {
  const db = tmpFile('.db');
  const Database = (await import('better-sqlite3')).default;
  const raw = new Database(db);
  raw.pragma('user_version = 42');
  raw.close();
  const orch = useOrchestrator(t, { store: db });
  await assert.rejects(orch.start(), isCode('ERR_STORE', 'newer'));
});

test('invalid store option values are refused at construction (ERR_INVALID_OPTION)', () => {
  const bad: unknown[] = [
    '',
    'nul\0byte.db',
    42,
    true,
    null,
    {},
    [],
    { open() {}, apply() {} },
    { open: 1, apply() {}, close() {} },
    () => undefined,
  ];
  for (const store of bad) {
    assert.throws(
      () => new WorkerOrchestrator({ logger: false, store: store as string }),
      isCode('ERR_INVALID_OPTION', 'store'),
      `store: ${String(store)}`,
    );
  }
  // Accepted without touching anything: 'memory', a path (opened only at start()), a Store.
  const path = tmpFile('.db');
  new WorkerOrchestrator({ logger: false, store: 'memory' });
  new WorkerOrchestrator({ logger: false, store: path });
  new WorkerOrchestrator({ logger: false, store: { open: () => emptyState(), apply() {}, close() {} } });
  assert.equal(existsSync(path), false, 'construction does not create the file');
});

// ---------------------------------------------------------------------------------- custom Store

function emptyState(): StoredState {
  return { runs: [], deadLetters: [], workers: {}, history: [] };
}

/** An in-memory Store: hands out `state` at open and records every batch. */
class MemoryStore implements Store {
  opens = 0;
  closes = 0;
  batches: StoreChange[][] = [];
  /** Batches applied while the store was not open (a Store may refuse those). */
  outOfTurn = 0;
  #open = false;

  constructor(readonly state: StoredState) {}

  async open(): Promise<StoredState> {
    await sleep(5);
    this.opens++;
    this.#open = true;
    return structuredClone(this.state);
  }

  async apply(changes: readonly StoreChange[]): Promise<void> {
    if (!this.#open) this.outOfTurn++;
    await sleep(1);
    this.batches.push([...changes]);
  }

  close(): void {
    this.closes++;
    this.#open = false;
  }

  changes(): StoreChange[] {
    return this.batches.flat();
  }
}

test('a custom Store object: its open() state is restored and it receives the changes', async (t) => {
  const totals = { runs: 3, succeeded: 1, failed: 2, retries: 1, timeouts: 1, crashes: 0 };
  const deadLetter: DeadLetter = {
    id: 'dl-1',
    name: 'job',
    payload: { n: 1 },
    reason: 'timeout',
    error: 'Error: too slow',
    attempts: 4,
    failedAt: '2024-03-03T03:03:03.000Z',
  };
  const record = {
    worker: 'job',
    runId: 'old-run',
    origin: 'run',
    startedAt: Date.UTC(2024, 2, 3),
    endedAt: Date.UTC(2024, 2, 3) + 50,
    outcome: 'failed' as const,
    reason: 'timeout' as const,
    attempts: 4,
    durationMs: 50,
  };
  const worker = (extra: object) => ({
    manuallyEnabled: true,
    breaker: 'closed' as const,
    consecutiveFailures: 0,
    cooldownUntil: undefined,
    lastRunAt: Date.UTC(2024, 2, 3),
    lastSuccessAt: undefined,
    lastEndedAt: Date.UTC(2024, 2, 3) + 50,
    lastError: undefined,
    lastFailureReason: undefined,
    totals,
    ...extra,
  });
  const store = new MemoryStore({
    runs: [
      {
        id: 'kept-1',
        seq: 1,
        worker: 'job',
        origin: 'run',
        payload: { n: 7, at: new Date(0) },
        priority: 1,
        enqueuedAt: Date.UTC(2024, 2, 3),
        attempts: 1,
        key: 'K',
        replayOf: undefined,
      },
      {
        id: 'orphan',
        seq: 2,
        worker: 'gone',
        origin: 'trigger',
        payload: 'nobody runs me',
        priority: 1,
        enqueuedAt: Date.UTC(2024, 2, 3),
        attempts: 0,
        key: undefined,
        replayOf: undefined,
      },
    ],
    deadLetters: [deadLetter],
    workers: {
      job: worker({ lastError: 'Error: too slow', lastFailureReason: 'timeout' }),
      off: worker({ manuallyEnabled: false }),
      tripped: worker({ breaker: 'open', consecutiveFailures: 4, lastError: 'Error: x' }),
    },
    history: [record],
  });

  const orch = useOrchestrator(t, { store });
  const calls: { payload: unknown; attempt: number }[] = [];
  /** Each run of 'job' waits for its payload's gate to open. */
  const gates = new Map<number, { opened: Promise<void>; open: () => void }>();
  const gateOf = (n: number) => {
    let entry = gates.get(n);
    if (entry === undefined) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      entry = { opened, open };
      gates.set(n, entry);
    }
    return entry;
  };
  orch.registerWorker(
    'job',
    async (ctx) => {
      const { n } = ctx.payload as { n: number };
      calls.push({ payload: ctx.payload, attempt: ctx.attempt });
      await gateOf(n).opened;
      return n;
    },
    { executionMode: TRIGGERED, maxConsecutiveFailures: 10 },
  );
  orch.registerWorker('off', () => 'off', { executionMode: TRIGGERED });
  orch.registerWorker('tripped', () => 'tripped', { executionMode: TRIGGERED, maxConsecutiveFailures: 4 });
  await orch.start();
  assert.equal(store.opens, 1);

  // Restored: worker state, dead letters, history, and the kept run (which runs, as its 2nd attempt).
  assert.equal(status(orch, 'off').enabled, false);
  assert.equal(status(orch, 'tripped').breaker, 'open');
  assert.equal(status(orch, 'tripped').failures, 4);
  assert.equal(status(orch, 'job').lastError, 'Error: too slow');
  assert.equal(status(orch, 'off').lastRun, new Date(Date.UTC(2024, 2, 3)).toISOString());
  assert.equal(status(orch, 'tripped').lastError, 'Error: x');
  assert.deepEqual(orch.deadLetters.list(), [deadLetter]);
  assert.deepEqual(orch.getHistory('job'), [record]);
  await waitFor(() => calls.length === 1, 5000, 'the kept run started');
  assert.deepEqual(calls[0], { payload: { n: 7, at: new Date(0) }, attempt: 2 });
  gateOf(7).open();
  await idle(orch);
  await orch.flush();
  const afterRestore = store.changes();
  assert.ok(
    afterRestore.some((c) => c.type === 'run-over' && c.id === 'kept-1'),
    'the kept run is over in the store',
  );
  assert.ok(afterRestore.some((c) => c.type === 'history' && c.record.runId === 'kept-1'));
  const jobState = afterRestore.filter((c) => c.type === 'worker' && c.name === 'job').at(-1);
  assert.ok(jobState?.type === 'worker');
  assert.equal(jobState.state.totals.runs, totals.runs + 1, 'totals continue from the stored ones');
  assert.ok(
    !afterRestore.some((c) => JSON.stringify(c).includes('orphan')),
    'the run of an unregistered worker is left alone',
  );

  // A new run is queued in the store, then over.
  const pending = orch.run('job', { n: 8 }, { key: 'new' });
  await orch.flush();
  const queued = store.changes().find((c) => c.type === 'run-queued');
  assert.ok(queued?.type === 'run-queued', 'the new run was written while it ran');
  assert.deepEqual(queued.run.payload, { n: 8 });
  assert.equal(queued.run.key, 'new');
  assert.equal(queued.run.worker, 'job');
  gateOf(8).open();
  assert.equal(await pending, 8);
  await orch.flush();
  assert.ok(store.changes().some((c) => c.type === 'run-over' && c.id === queued.run.id));

  // Dead-letter removal reaches the store.
  assert.equal(orch.deadLetters.remove('dl-1'), true);
  await orch.flush();
  assert.ok(store.changes().some((c) => c.type === 'dead-letter-removed' && c.id === 'dl-1'));

  await orch.stop();
  assert.equal(store.closes, 1);
  assert.equal(store.outOfTurn, 0, 'every batch was applied between open() and close()');
});

test('a custom Store whose open() throws: start() rejects with ERR_STORE and the cause', async (t) => {
  const cause = new Error('connection refused');
  let opens = 0;
  const orch = useOrchestrator(t, {
    store: {
      open: async () => {
        opens++;
        throw cause;
      },
      apply() {},
      close() {},
    },
  });
  orch.registerWorker('w', () => 1, { executionMode: TRIGGERED });
  await assert.rejects(orch.start(), (error: unknown) => {
    assert.ok(error instanceof OrchestratorError);
    assert.equal(error.code, 'ERR_STORE');
    assert.equal(error.cause, cause);
    assert.match(error.message, /connection refused/);
    return true;
  });
  assert.equal(orch.getStatus().state, 'stopped');
  await assert.rejects(orch.start(), isCode('ERR_STORE'), 'a later start() tries again');
  assert.equal(opens, 2);
});

test('the package root exports the Store interface (README: "the exported `Store` interface")', () => {
  const source = ts.createSourceFile(srcIndex, readFileSync(srcIndex, 'utf8'), ts.ScriptTarget.Latest);
  const exported = new Set<string>();
  for (const statement of source.statements) {
    if (
      ts.isExportDeclaration(statement) &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
    ) {
      for (const element of statement.exportClause.elements) exported.add(element.name.text);
    }
  }
  assert.ok(exported.has('WorkerOrchestrator'), 'the parse found the exports');
  assert.ok(exported.has('Store'), `src/index.ts exports ${[...exported].sort().join(', ')}`);
});

// ----------------------------------------------------------------------------------------- crash

/** The host of the crash test: a real orchestrator on `db` in a child process (run with tsx). */
const HOST_SOURCE = `
import { WorkerExecutionMode, WorkerOrchestrator } from ${JSON.stringify(srcIndex)};

const [db, results, module, mode, countText] = process.argv.slice(2);
// Inherited by the worker threads and the child processes: tells which host ran a run.
process.env.CORRAL_TEST_HOST = String(process.pid);
const say = (text) => process.stdout.write(text + '\\n');
const orch = new WorkerOrchestrator({ logger: false, store: db, maxConcurrentWorkers: 4, shutdownTimeoutMs: 10_000 });
const common = { executionMode: WorkerExecutionMode.TRIGGERED, concurrency: 2, maxQueue: 10_000, timeoutSeconds: 30, retryDelayMs: 10 };
orch.registerWorker('thread', module, { ...common, isolation: 'thread' });
orch.registerWorker('process', module, { ...common, isolation: 'process' });
await orch.start();
if (mode === 'submit') {
  setInterval(() => undefined, 60_000); // works until it is killed
  const count = Number(countText);
  for (let id = 0; id < count; id++) {
    orch.run(id % 2 === 0 ? 'thread' : 'process', { id, file: results })
      .catch((error) => say('failed ' + id + ' ' + error.message));
  }
  await orch.flush();
  say('submitted');
} else {
  const { queued, running } = orch.getStatus();
  say('resumed ' + (queued + running));
  while (orch.getStatus().queued + orch.getStatus().running > 0) await new Promise((r) => setTimeout(r, 20));
  const report = await orch.stop();
  say('done ' + JSON.stringify(report));
}
`;

/** The crash test's worker: 5-20 ms of work, then one line { id, pid, threadId, host } per run. */
const CRASH_WORKER = `
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
export default async function work({ payload }) {
  await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 16)));
  const line = { id: payload.id, pid: process.pid, threadId, host: Number(process.env.CORRAL_TEST_HOST) };
  appendFileSync(payload.file, JSON.stringify(line) + '\\n');
  return payload.id;
}
`;

interface CrashLine {
  id: number;
  pid: number;
  threadId: number;
  host: number;
}

interface Host {
  child: ChildProcess;
  pid: number;
  out: string[];
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnHost(t: TestContext, args: string[]): Host {
  const script = tmpFile('.mts');
  writeFileSync(script, HOST_SOURCE);
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  let err = '';
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => out.push(line));
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid as number;
  t.after(() => killLeftover(pid));
  return { child, pid, out, err: () => err, exited };
}

/** Live descendants of `pid` that the code under test started (not tsx's esbuild service). */
function treeOf(pid: number): number[] {
  return childrenOf(pid).filter((p) => !/\/esbuild\b/.test(cmdline(p)));
}

test('crash: a host SIGKILLed in the middle of 2,000 runs loses none; the next host runs the rest', {
  timeout: 180_000,
}, async (t) => {
  const COUNT = 2000;
  const MAX_CONCURRENT = 4;
  const db = tmpFile('.db');
  const results = tmpFile('.jsonl');
  const worker = tmpModule(CRASH_WORKER);
  const before = new Set(spawnedChildren());
  const lines = () => readLines<CrashLine>(results);
  const leftovers: number[] = [];
  t.after(() => {
    for (const pid of leftovers) killLeftover(pid);
  });

  // Host 1 submits everything, makes it durable, and works until it is killed.
  const h1 = spawnHost(t, [db, results, worker, 'submit', String(COUNT)]);
  await waitFor(
    () => h1.out.includes('submitted') || h1.child.exitCode !== null,
    60_000,
    'host 1 printed "submitted"',
  );
  assert.ok(h1.out.includes('submitted'), `host 1: ${h1.out.join('\n')}\n${h1.err()}`);
  await waitFor(() => lines().length >= 200, 60_000, '200 runs completed in host 1');

  // Meanwhile the file is locked: another orchestrator (this process) is refused, host 1 works on.
  const intruder = new WorkerOrchestrator({ logger: false, store: db });
  await assert.rejects(intruder.start(), isCode('ERR_STORE', 'locked'));
  const seen = lines().length;
  await waitFor(() => lines().length >= seen + 20, 20_000, 'host 1 keeps working after the refused open');

  const tree1 = treeOf(h1.pid);
  leftovers.push(...tree1);
  assert.ok(tree1.length >= 2, `host 1 has child processes (sandboxes, reaper): ${tree1}`);
  process.kill(h1.pid, 'SIGKILL');
  const exit1 = await h1.exited;
  assert.equal(exit1.signal, 'SIGKILL');
  assert.ok(
    !h1.out.some((line) => line.startsWith('failed')),
    `no run failed in host 1: ${h1.out.join('\n')}`,
  );
  // No orphans (README: Isolation): the reaper kills host 1's children.
  await waitFor(
    () => tree1.every((pid) => !pidAlive(pid)),
    10_000,
    `host 1's child processes exit after its SIGKILL (${tree1.filter(pidAlive)})`,
  );
  const byHost1 = lines().length;

  // Host 2 on the same file runs what was not over.
  const h2 = spawnHost(t, [db, results, worker, 'resume']);
  await waitFor(() => lines().length >= byHost1 + 50 || h2.child.exitCode !== null, 60_000, 'host 2 works');
  const tree2 = treeOf(h2.pid);
  leftovers.push(...tree2);
  const exit2 = await h2.exited;
  assert.equal(exit2.code, 0, `host 2 exit: ${h2.out.join('\n')}\n${h2.err()}`);
  const resumed = Number(h2.out.find((line) => line.startsWith('resumed '))?.slice('resumed '.length));
  const done = h2.out.find((line) => line.startsWith('done '));
  assert.ok(done !== undefined, `host 2 finished: ${h2.out.join('\n')}\n${h2.err()}`);
  const report = JSON.parse(done.slice('done '.length)) as { requeued: number; terminated: string[] };
  assert.equal(report.requeued, 0);
  assert.deepEqual(report.terminated, []);
  assert.ok(!h2.out.some((line) => line.startsWith('failed')));
  await waitFor(
    () => tree2.every((pid) => !pidAlive(pid)),
    10_000,
    "host 2's children are gone after stop()",
  );

  // The workers' own records.
  const records = lines();
  const runsOf = new Map<number, CrashLine[]>();
  for (const r of records) {
    assert.ok(r.host === h1.pid || r.host === h2.pid, `a record of an unknown host: ${JSON.stringify(r)}`);
    runsOf.set(r.id, [...(runsOf.get(r.id) ?? []), r]);
  }
  const missing: number[] = [];
  for (let id = 0; id < COUNT; id++) if (!runsOf.has(id)) missing.push(id);
  assert.deepEqual(missing, [], 'every submitted run completed at least once');
  assert.equal(runsOf.size, COUNT, 'and nothing else ran');

  const h1Runs = records.filter((r) => r.host === h1.pid);
  const h2Runs = records.filter((r) => r.host === h2.pid);
  assert.ok(h1Runs.length >= 200);
  assert.equal(h2Runs.length, resumed, 'host 2 ran each run it restored exactly once');
  for (const host of [h1Runs, h2Runs]) {
    const seenIds = new Set<number>();
    for (const r of host) {
      assert.ok(!seenIds.has(r.id), `run ${r.id} ran twice in the same host`);
      seenIds.add(r.id);
    }
  }

  // Runs recorded twice ran once in each host: their end had not reached the file when host 1 died.
  // That is (a) the runs in flight at the kill - at most maxConcurrentWorkers (4) - whose work
  // finished (line written) before the host heard of it or before the reaper killed the child, plus
  // (b) runs whose end the host had seen but whose run-over still sat in the journal, which writes
  // one event-loop turn later: those that ended in the last turn (at most 4, one per slot) and those
  // of the batch being committed at the kill (at most 4 more). 4 + 4 + 4 = 12; 16 leaves room.
  const duplicates = [...runsOf].filter(([, rs]) => rs.length > 1);
  assert.ok(
    duplicates.length <= 16,
    `${duplicates.length} runs ran twice (at most ${MAX_CONCURRENT} in flight + the last turn's ends expected)`,
  );
  const lastOfHost1 = new Set(h1Runs.slice(-16).map((r) => r.id));
  for (const [id, rs] of duplicates) {
    assert.deepEqual(
      rs.map((r) => r.host),
      [h1.pid, h2.pid],
      `run ${id} ran first in host 1, then once more in host 2`,
    );
    assert.ok(lastOfHost1.has(id), `run ${id} was among the last runs host 1 completed before the kill`);
  }
  t.diagnostic(
    `host 1 completed ${h1Runs.length}, host 2 resumed ${resumed}; ${duplicates.length} ran in both`,
  );

  // Nothing of either host is left.
  await waitFor(
    () => spawnedChildren().filter((pid) => !before.has(pid)).length === 0,
    10_000,
    'no process started by the test is left',
  );
});
