import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobPriority, OrchestratorError, RunError, WorkerExecutionMode } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { orchestrator, startRedis } from './harness.ts';

const TRIGGERED = { executionMode: WorkerExecutionMode.TRIGGERED };

test('dead letters are the same on every host: listed, replayed and removed from any of them', async (t) => {
  const redis = await startRedis(t);
  const a = orchestrator(t, { cluster: { redis: redis.url, hostId: 'a', execute: false } });
  const b = orchestrator(t, { cluster: { redis: redis.url, hostId: 'b' } });
  let failing = true;
  a.registerWorker('w', () => 0, { ...TRIGGERED, maxRetries: 0 });
  b.registerWorker(
    'w',
    (ctx) => {
      if (failing) throw new Error(`no (${JSON.stringify(ctx.payload)})`);
      return 'yes';
    },
    { ...TRIGGERED, maxRetries: 0 },
  );
  await a.start();
  await b.start();
  const error = await a.run('w', { n: 1 }).catch((e: unknown) => e);
  assert.ok(error instanceof RunError && error.reason === 'error' && error.attempts === 1);
  await a.run('w', { n: 2 }).catch(() => undefined);
  await waitFor(
    () => a.deadLetters.list().length === 2 && b.deadLetters.list().length === 2,
    3000,
    'mirrored',
  );
  const [first, second] = a.deadLetters.list('w');
  assert.ok(first !== undefined && second !== undefined);
  assert.deepEqual(
    b.deadLetters
      .list()
      .map((d) => d.id)
      .sort(),
    [first.id, second.id].sort(),
  );
  assert.deepEqual(first.payload, { n: 1 });
  assert.equal(first.reason, 'error');
  assert.match(first.error, /no \(\{"n":1\}\)/);

  // A replay that fails again stays one entry.
  await assert.rejects(a.deadLetters.replay(first.id), RunError);
  await waitFor(() => b.deadLetters.list().length === 2, 3000, 'still two');
  failing = false;
  assert.equal(await b.deadLetters.replay(first.id), 'yes');
  await waitFor(
    () => a.deadLetters.list().length === 1 && b.deadLetters.list().length === 1,
    3000,
    'replayed entry gone everywhere',
  );
  assert.equal(b.deadLetters.remove(second.id), true);
  await waitFor(() => a.deadLetters.list().length === 0, 3000, 'removed entry gone everywhere');
  await assert.rejects(a.deadLetters.replay(second.id), (e: unknown) => e instanceof OrchestratorError);
});

// Also the case where every lane of the top priorities is found empty: the lowest one must still be
// looked at then (not only after its next event).
test('a host with a free slot takes the best run among its workers: priority, then the oldest', async (t) => {
  const redis = await startRedis(t);
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  const order: string[] = [];
  const register = (orch: ReturnType<typeof orchestrator>, record: boolean) => {
    const fn = (name: string) => (ctx: { payload: unknown }) => {
      if (record) order.push(`${name}${ctx.payload}`);
    };
    orch.registerWorker('low', fn('low'), { ...TRIGGERED, priority: JobPriority.LOW });
    orch.registerWorker('high', fn('high'), { ...TRIGGERED, priority: JobPriority.HIGH });
    orch.registerWorker('a', fn('a'), TRIGGERED);
    orch.registerWorker('b', fn('b'), TRIGGERED);
  };
  register(caller, false);
  await caller.start();
  const runs: Promise<unknown>[] = [];
  const queue = async (name: string, n: number) => {
    runs.push(caller.run(name, n));
    // Queued one after the other (the enqueue is asynchronous).
    await waitFor(() => caller.getStatus().workerStates[name]?.queued ?? 0, 3000, `${name}${n} queued`);
    await sleep(5);
  };
  await queue('low', 1);
  await queue('a', 1);
  await queue('b', 1);
  await queue('high', 1);
  await queue('a', 2);
  await queue('low', 2);
  await queue('b', 2);
  await queue('high', 2);
  const runner = orchestrator(t, {
    cluster: { redis: redis.url, hostId: 'runner' },
    maxConcurrentWorkers: 1,
  });
  register(runner, true);
  await runner.start();
  await Promise.all(runs);
  assert.deepEqual(order, ['high1', 'high2', 'a1', 'b1', 'a2', 'b2', 'low1', 'low2']);
});

test('maxQueue counts the runs waiting in the whole cluster', async (t) => {
  const redis = await startRedis(t);
  const a = orchestrator(t, { cluster: { redis: redis.url, hostId: 'a', execute: false } });
  const b = orchestrator(t, { cluster: { redis: redis.url, hostId: 'b', execute: false } });
  for (const orch of [a, b]) orch.registerWorker('w', () => 0, { ...TRIGGERED, maxQueue: 2 });
  await a.start();
  await b.start();
  const first = a.run('w', 1);
  await waitFor(() => a.getStatus().workerStates.w?.queued === 1, 3000, 'one waiting');
  const second = b.run('w', 2);
  await waitFor(() => a.getStatus().workerStates.w?.queued === 2, 3000, 'two waiting');
  await assert.rejects(
    a.run('w', 3),
    (e: unknown) => e instanceof OrchestratorError && e.code === 'ERR_QUEUE_FULL',
  );
  await assert.rejects(
    b.run('w', 3),
    (e: unknown) => e instanceof OrchestratorError && e.code === 'ERR_QUEUE_FULL',
  );
  const runner = orchestrator(t, { cluster: { redis: redis.url, hostId: 'runner' } });
  runner.registerWorker('w', (ctx) => ctx.payload, TRIGGERED);
  await runner.start();
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
});

test('stop() on one host: what it runs past the grace period goes back to the queue and runs elsewhere', async (t) => {
  const redis = await startRedis(t);
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  const leaving = orchestrator(t, {
    cluster: { redis: redis.url, hostId: 'leaving' },
    maxConcurrentWorkers: 2,
    shutdownTimeoutMs: 200,
  });
  const staying = orchestrator(t, {
    cluster: { redis: redis.url, hostId: 'staying' },
    maxConcurrentWorkers: 4,
  });
  const attempts: string[] = [];
  const slow = (host: string) => (ctx: { signal: AbortSignal; attempt: number; payload: unknown }) => {
    attempts.push(`${host}:${ctx.payload}:${ctx.attempt}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(`${host}:${ctx.payload}`), host === 'leaving' ? 60_000 : 10);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('stopped'));
      });
    });
  };
  caller.registerWorker('slow', () => 0, { ...TRIGGERED, concurrency: 10 });
  leaving.registerWorker('slow', slow('leaving'), { ...TRIGGERED, concurrency: 10 });
  staying.registerWorker('slow', slow('staying'), { ...TRIGGERED, concurrency: 10 });
  await caller.start();
  await leaving.start();
  const runs = [1, 2].map((n) => caller.run('slow', n));
  await waitFor(() => leaving.getStatus().running === 2, 5000, 'both running on the leaving host');
  const report = await leaving.stop();
  assert.equal(report.requeued, 2);
  assert.deepEqual(report.terminated, ['slow', 'slow']);
  await staying.start();
  assert.deepEqual((await Promise.all(runs)).sort(), ['staying:1', 'staying:2']);
  // Handed back, not failed: the attempt that was cut short does not count.
  assert.deepEqual(attempts.filter((a) => a.startsWith('staying')).sort(), ['staying:1:1', 'staying:2:1']);
});

test('run(..., { key }) on two hosts joins one run while it is queued or running', async (t) => {
  const redis = await startRedis(t);
  const a = orchestrator(t, { cluster: { redis: redis.url, hostId: 'a', execute: false } });
  const b = orchestrator(t, { cluster: { redis: redis.url, hostId: 'b', execute: false } });
  for (const orch of [a, b]) orch.registerWorker('w', () => 0, TRIGGERED);
  await a.start();
  await b.start();
  let calls = 0;
  const first = a.run('w', 'from a', { key: 'k1' });
  await waitFor(() => a.getStatus().workerStates.w?.queued === 1, 3000, 'queued');
  const second = b.run('w', 'from b', { key: 'k1' });
  await sleep(100);
  const runner = orchestrator(t, { cluster: { redis: redis.url, hostId: 'runner' } });
  runner.registerWorker(
    'w',
    async (ctx) => {
      calls++;
      await sleep(50);
      return ctx.payload;
    },
    TRIGGERED,
  );
  await runner.start();
  assert.deepEqual(await Promise.all([first, second]), ['from a', 'from a']);
  assert.equal(calls, 1);
  // Over: the same key runs again.
  assert.equal(await b.run('w', 'again', { key: 'k1' }), 'again');
});

test("a caller's signal cancels its run on the host running it: aborted, not retried, not a dead letter", async (t) => {
  const redis = await startRedis(t);
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  const runner = orchestrator(t, { cluster: { redis: redis.url, hostId: 'runner' } });
  caller.registerWorker('slow', () => 0, { ...TRIGGERED, maxRetries: 2 });
  let started = 0;
  let aborted = 0;
  runner.registerWorker(
    'slow',
    (ctx) =>
      new Promise((_resolve, reject) => {
        started++;
        ctx.signal.addEventListener('abort', () => {
          aborted++;
          reject(new Error('aborted'));
        });
      }),
    { ...TRIGGERED, maxRetries: 2 },
  );
  await caller.start();
  await runner.start();
  const controller = new AbortController();
  const run = caller.run('slow', 1, { signal: controller.signal }).catch((e: unknown) => e);
  await waitFor(() => started === 1, 5000, 'started on the runner');
  controller.abort();
  const error = await run;
  assert.ok(error instanceof RunError && error.reason === 'aborted');
  await waitFor(() => aborted === 1, 3000, 'the attempt ended on the runner');
  await waitFor(() => runner.getStatus().running === 0, 3000, 'nothing running');
  await sleep(500);
  assert.equal(started, 1, 'not retried');
  assert.equal(runner.deadLetters.list().length + caller.deadLetters.list().length, 0);
  // A queued run is removed and never starts.
  await runner.stop();
  const queued = new AbortController();
  const waiting = caller.run('slow', 2, { signal: queued.signal }).catch((e: unknown) => e);
  await waitFor(() => caller.getStatus().workerStates.slow?.queued === 1, 3000, 'queued');
  queued.abort();
  assert.ok((await waiting) instanceof RunError);
  await waitFor(() => caller.getStatus().workerStates.slow?.queued === 0, 3000, 'removed');
});

test('under load a host never runs more than maxConcurrentWorkers, nor a worker more than its concurrency', async (t) => {
  const redis = await startRedis(t);
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  const hosts = ['a', 'b'].map((hostId) =>
    orchestrator(t, { cluster: { redis: redis.url, hostId }, maxConcurrentWorkers: 2 }),
  );
  const running = new Map<string, number>();
  const most = new Map<string, number>();
  const count = (key: string, by: number) => {
    const now = (running.get(key) ?? 0) + by;
    running.set(key, now);
    most.set(key, Math.max(most.get(key) ?? 0, now));
  };
  caller.registerWorker('fast', () => 0, { ...TRIGGERED, concurrency: 8, maxQueue: 10_000 });
  caller.registerWorker('capped', () => 0, { ...TRIGGERED, concurrency: 1, maxQueue: 10_000 });
  for (const [i, orch] of hosts.entries()) {
    for (const [name, concurrency] of [
      ['fast', 8],
      ['capped', 1],
    ] as const) {
      orch.registerWorker(
        name,
        async () => {
          count(`host${i}`, 1);
          count(name, 1);
          await sleep(1);
          count(`host${i}`, -1);
          count(name, -1);
        },
        { ...TRIGGERED, concurrency, maxQueue: 10_000 },
      );
    }
  }
  await caller.start();
  for (const orch of hosts) await orch.start();
  // Runs that end while others wait: most are taken with the report of the one before (one round trip).
  await Promise.all(Array.from({ length: 400 }, (_, n) => caller.run(n % 4 === 0 ? 'capped' : 'fast', n)));
  assert.ok((most.get('host0') ?? 0) <= 2 && (most.get('host1') ?? 0) <= 2, JSON.stringify([...most]));
  assert.equal(most.get('capped'), 1);
  assert.ok((most.get('fast') ?? 0) <= 4, 'at most 2 slots on each of 2 hosts');
});

test('maxQueue holds for a burst of run() calls on one host', async (t) => {
  const redis = await startRedis(t);
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  caller.registerWorker('w', () => 0, { ...TRIGGERED, maxQueue: 10 });
  await caller.start();
  const calls = Array.from({ length: 30 }, (_, n) => caller.run('w', n));
  const refused: unknown[] = [];
  for (const call of calls) {
    call.catch((error: unknown) => {
      if (error instanceof OrchestratorError && error.code === 'ERR_QUEUE_FULL') refused.push(error);
    });
  }
  await waitFor(() => refused.length === 20, 10_000, '20 of 30 refused');
  await waitFor(() => caller.getStatus().workerStates.w?.queued === 10, 5000, '10 waiting in the cluster');
});
