// Priority, maxConcurrentWorkers, per-worker concurrency and maxQueue (README: Semantics, Worker options).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobPriority, WorkerExecutionMode, type WorkerOrchestrator } from '../../src/index.ts';
import { gate, isCode, useOrchestrator, waitFor } from '../helpers.ts';

const { TRIGGERED } = WorkerExecutionMode;

/** Registers a TRIGGERED worker that holds its slot until the gate opens. */
function registerBlocker(orch: WorkerOrchestrator, name = 'blocker') {
  const g = gate();
  let running = false;
  orch.registerWorker(
    name,
    async () => {
      running = true;
      await g.opened;
      running = false;
    },
    { executionMode: TRIGGERED },
  );
  return { ...g, isRunning: () => running };
}

test('priority: with one slot, queued runs start CRITICAL, HIGH, NORMAL, LOW', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 1 });
  const blocker = registerBlocker(orch);
  const order: string[] = [];
  const priorities: [string, JobPriority][] = [
    ['low', JobPriority.LOW],
    ['normal', JobPriority.NORMAL],
    ['critical', JobPriority.CRITICAL],
    ['high', JobPriority.HIGH],
  ];
  for (const [name, priority] of priorities) {
    orch.registerWorker(
      name,
      () => {
        order.push(name);
      },
      { executionMode: TRIGGERED, priority },
    );
  }
  await orch.start();
  const blocked = orch.run('blocker');
  await waitFor(blocker.isRunning, 2000, 'the blocker to run');
  const runs = priorities.map(([name]) => orch.run(name));
  await sleep(50);
  assert.deepEqual(order, [], 'a run started while the only slot was busy');
  assert.equal(orch.getStatus().queued, 4);
  blocker.open();
  await Promise.all([blocked, ...runs]);
  assert.deepEqual(order, ['critical', 'high', 'normal', 'low']);
});

test('priority: within one priority, the run waiting longest starts first (FIFO)', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 1 });
  const blocker = registerBlocker(orch);
  const order: string[] = [];
  for (const name of ['a', 'b', 'c']) {
    orch.registerWorker(
      name,
      (ctx) => {
        order.push(`${name}${ctx.payload as number}`);
      },
      { executionMode: TRIGGERED, priority: JobPriority.HIGH },
    );
  }
  await orch.start();
  const blocked = orch.run('blocker');
  await waitFor(blocker.isRunning, 2000, 'the blocker to run');
  const runs = [
    orch.run('c', 1),
    orch.run('a', 1),
    orch.run('c', 2),
    orch.run('b', 1),
    orch.run('a', 2),
    orch.run('c', 3),
  ];
  blocker.open();
  await Promise.all([blocked, ...runs]);
  assert.deepEqual(order, ['c1', 'a1', 'c2', 'b1', 'a2', 'c3']);
});

test('maxConcurrentWorkers: never more than N runs in flight across workers', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 2 });
  let inFlight = 0;
  let maxInFlight = 0;
  for (const name of ['w1', 'w2', 'w3', 'w4']) {
    orch.registerWorker(
      name,
      async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(20);
        inFlight--;
      },
      { executionMode: TRIGGERED, concurrency: 3 },
    );
  }
  await orch.start();
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < 5; i++) for (const name of ['w1', 'w2', 'w3', 'w4']) runs.push(orch.run(name));
  let maxStatusRunning = 0;
  const poll = setInterval(() => {
    maxStatusRunning = Math.max(maxStatusRunning, orch.getStatus().running);
  }, 5);
  try {
    await Promise.all(runs);
  } finally {
    clearInterval(poll);
  }
  assert.equal(maxInFlight, 2, `max in flight was ${maxInFlight}`);
  assert.ok(maxStatusRunning <= 2, `getStatus().running reached ${maxStatusRunning}`);
});

test('concurrency: a worker with concurrency 2 has at most 2 runs in flight; default 1 never overlaps', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  const track = { pair: { now: 0, max: 0 }, single: { now: 0, max: 0 } };
  const body = (k: keyof typeof track) => async () => {
    const c = track[k];
    c.now++;
    c.max = Math.max(c.max, c.now);
    await sleep(30);
    c.now--;
  };
  orch.registerWorker('pair', body('pair'), { executionMode: TRIGGERED, concurrency: 2 });
  orch.registerWorker('single', body('single'), { executionMode: TRIGGERED });
  await orch.start();
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < 6; i++) runs.push(orch.run('pair'), orch.run('single'));
  await waitFor(() => orch.getStatus().workerStates.pair?.runningCount === 2, 2000, 'two pair runs');
  assert.equal(orch.getStatus().workerStates.single?.runningCount, 1);
  await Promise.all(runs);
  assert.equal(track.pair.max, 2);
  assert.equal(track.single.max, 1);
});

test('maxQueue: one running + maxQueue queued, then run() and triggerWorker reject ERR_QUEUE_FULL', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  const g = gate();
  let started = 0;
  orch.registerWorker(
    'q',
    async () => {
      started++;
      await g.opened;
      return started;
    },
    { executionMode: TRIGGERED, concurrency: 1, maxQueue: 2 },
  );
  await orch.start();
  const first = orch.run('q');
  await waitFor(() => started === 1, 2000, 'the first run');
  const second = orch.run('q');
  const third = orch.run('q');
  const status = orch.getStatus().workerStates.q;
  assert.equal(status?.runningCount, 1);
  assert.equal(status?.queued, 2);
  await assert.rejects(orch.run('q'), isCode('ERR_QUEUE_FULL'));
  await assert.rejects(orch.triggerWorker('q'), isCode('ERR_QUEUE_FULL'));
  assert.equal(orch.getStatus().workerStates.q?.queued, 2, 'a refused run stayed in the queue');
  g.open();
  await Promise.all([first, second, third]);
  assert.equal(started, 3);
  // The queue has room again.
  assert.equal(await orch.run('q'), 4);
});

test('maxQueue 0: a run starts when a slot is free, else ERR_QUEUE_FULL', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  const g = gate();
  let started = 0;
  orch.registerWorker(
    'direct',
    async () => {
      started++;
      await g.opened;
      return 'done';
    },
    { executionMode: TRIGGERED, maxQueue: 0 },
  );
  await orch.start();
  const first = orch.run('direct');
  await waitFor(() => started === 1, 2000, 'the run to start');
  await assert.rejects(orch.run('direct'), isCode('ERR_QUEUE_FULL'));
  g.open();
  assert.equal(await first, 'done');
  assert.equal(await orch.run('direct'), 'done');
  assert.equal(started, 2);
});
