// dependsOn, graph validation and blocks (README: Semantics, Error codes), with inline function workers.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerExecutionMode } from '../../src/index.ts';
import { gate, isCode, useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED } = WorkerExecutionMode;

test('dependsOn: a SCHEDULED dependent runs only after its dependency succeeded since its last start', async (t) => {
  const orch = useOrchestrator(t);
  let failDep = false;
  let depRuns = 0;
  let dependentRuns = 0;
  orch.registerWorker(
    'dep',
    () => {
      depRuns++;
      if (failDep) throw new Error('dep failed');
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  orch.registerWorker(
    'dependent',
    () => {
      dependentRuns++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05, dependsOn: ['dep'] },
  );
  await orch.start();
  await sleep(300);
  assert.equal(dependentRuns, 0, 'ran although its dependency never succeeded');

  await orch.run('dep');
  await waitFor(() => dependentRuns === 1, 3000, 'the dependent after a dep success');
  await sleep(300);
  assert.equal(dependentRuns, 1, 'ran again without a fresh dependency success');

  failDep = true;
  await assert.rejects(orch.run('dep'));
  await sleep(300);
  assert.equal(dependentRuns, 1, 'ran after a dependency failure');

  failDep = false;
  await orch.run('dep');
  await waitFor(() => dependentRuns === 2, 3000, 'the dependent after the next dep success');
  assert.equal(depRuns, 3);
});

test('dependsOn: a SCHEDULED dependent never starts while its dependency runs', async (t) => {
  const orch = useOrchestrator(t);
  let depRunning = false;
  let overlaps = 0;
  let dependentRuns = 0;
  orch.registerWorker(
    'dep',
    async () => {
      depRunning = true;
      await sleep(60);
      depRunning = false;
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05 },
  );
  orch.registerWorker(
    'dependent',
    async () => {
      if (depRunning) overlaps++;
      dependentRuns++;
      await sleep(20);
      if (depRunning) overlaps++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05, dependsOn: ['dep'] },
  );
  await orch.start();
  await waitFor(() => dependentRuns >= 4, 6000, 'four dependent runs');
  assert.equal(overlaps, 0);
});

test('dependsOn: a TRIGGERED dependent is a pipeline: once per dependency success round, not after a failure', async (t) => {
  const orch = useOrchestrator(t);
  let failA = false;
  const pipelinePayloads: unknown[] = [];
  const deadLetters: string[] = [];
  orch.on('worker:dead-letter', (e) => deadLetters.push(e.name));
  orch.registerWorker(
    'a',
    () => {
      if (failA) throw new Error('a failed');
      return 'a';
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  orch.registerWorker('x', () => 'x', { executionMode: TRIGGERED });
  orch.registerWorker(
    'b',
    (ctx) => {
      pipelinePayloads.push(ctx.payload);
    },
    { executionMode: TRIGGERED, dependsOn: ['a'] },
  );
  let cRuns = 0;
  orch.registerWorker(
    'c',
    () => {
      cRuns++;
    },
    { executionMode: TRIGGERED, dependsOn: ['a', 'x'] },
  );
  await orch.start();
  await sleep(200);
  assert.equal(pipelinePayloads.length, 0, 'a pipeline ran before its dependency');

  await orch.run('a');
  await waitFor(() => pipelinePayloads.length === 1, 3000, 'the pipeline run of b');
  assert.deepEqual(pipelinePayloads, [undefined]);
  await sleep(200);
  assert.equal(pipelinePayloads.length, 1, 'one dependency success gave more than one pipeline run');
  assert.equal(cRuns, 0, 'c ran before all its dependencies succeeded');

  await orch.run('x');
  await waitFor(() => cRuns === 1, 3000, 'c after both dependencies');

  await orch.run('a');
  await waitFor(() => pipelinePayloads.length === 2, 3000, 'the second pipeline run of b');

  failA = true;
  await assert.rejects(orch.run('a'));
  await sleep(200);
  assert.equal(pipelinePayloads.length, 2, 'a pipeline ran after a dependency failure');
  assert.deepEqual(deadLetters, ['a']);
});

test('dependsOn: manual run() of a dependent does not wait for freshness, but waits while a dependency runs', async (t) => {
  const orch = useOrchestrator(t);
  const g = gate();
  let depEndedAt = 0;
  let depStarted = false;
  const dependentStarts: { payload: unknown; at: number }[] = [];
  orch.registerWorker(
    'dep',
    async (ctx) => {
      if (ctx.payload === 'hold') {
        depStarted = true;
        await g.opened;
      }
      depEndedAt = performance.now();
    },
    { executionMode: TRIGGERED },
  );
  orch.registerWorker(
    'dependent',
    (ctx) => {
      dependentStarts.push({ payload: ctx.payload, at: performance.now() });
      return 'ran';
    },
    { executionMode: SCHEDULED, intervalSeconds: 3600, dependsOn: ['dep'] },
  );
  await orch.start();
  // The dependency never succeeded: a requested run does not wait for that.
  assert.equal(await orch.run('dependent', 'first'), 'ran');

  const held = orch.run('dep', 'hold');
  await waitFor(() => depStarted, 2000, 'the dependency to start');
  const waiting = orch.run('dependent', 'second');
  await sleep(150);
  assert.equal(
    dependentStarts.filter((s) => s.payload === 'second').length,
    0,
    'started while its dependency was running',
  );
  g.open();
  await held;
  assert.equal(await waiting, 'ran');
  const second = dependentStarts.find((s) => s.payload === 'second');
  assert.ok(
    second !== undefined && second.at >= depEndedAt,
    'the dependent started before the dependency ended',
  );
});

test('dependsOn: manual run() of a SCHEDULED dependent is not stuck behind its scheduled run waiting for freshness', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('dep', () => 'dep', { executionMode: TRIGGERED });
  orch.registerWorker('dependent', (ctx) => ctx.payload, {
    executionMode: SCHEDULED,
    intervalSeconds: 0.05,
    dependsOn: ['dep'],
  });
  await orch.start();
  // The scheduled run is due at once and waits for a dependency success that never comes.
  await sleep(200);
  const manual = orch.run('dependent', 'manual');
  manual.catch(() => undefined); // if it hangs, stop() in t.after rejects it
  const outcome = await Promise.race([
    manual.then((value) => ({ value })),
    sleep(3000).then(() => 'still waiting after 3 s'),
  ]);
  assert.deepEqual(outcome, { value: 'manual' });
});

test('graph: unknown dependsOn / blocks names make start() reject ERR_UNKNOWN_DEPENDENCY', async (t) => {
  const fn = () => undefined;
  const a = useOrchestrator(t);
  a.registerWorker('w', fn, { executionMode: TRIGGERED, dependsOn: ['ghost'] });
  await assert.rejects(a.start(), isCode('ERR_UNKNOWN_DEPENDENCY', 'ghost'));
  assert.equal(a.getStatus().state, 'stopped');

  const b = useOrchestrator(t);
  b.registerWorker('w', fn, { executionMode: TRIGGERED, blocks: ['phantom'] });
  await assert.rejects(b.start(), isCode('ERR_UNKNOWN_DEPENDENCY', 'phantom'));
  assert.equal(b.getStatus().state, 'stopped');
});

test('graph: a dependsOn cycle a -> b -> a makes start() reject ERR_DEPENDENCY_CYCLE naming both', async (t) => {
  const fn = () => undefined;
  const orch = useOrchestrator(t);
  orch.registerWorker('alpha', fn, { executionMode: TRIGGERED, dependsOn: ['beta'] });
  orch.registerWorker('beta', fn, { executionMode: TRIGGERED, dependsOn: ['alpha'] });
  await assert.rejects(orch.start(), isCode('ERR_DEPENDENCY_CYCLE', 'alpha', 'beta'));
  assert.equal(orch.getStatus().state, 'stopped');
});

test('graph: registering while running with an unknown dependency throws at once and registers nothing', async (t) => {
  const fn = () => 'ok';
  const orch = useOrchestrator(t);
  orch.registerWorker('base', fn, { executionMode: TRIGGERED });
  await orch.start();
  assert.throws(
    () => orch.registerWorker('late', fn, { executionMode: TRIGGERED, dependsOn: ['ghost'] }),
    isCode('ERR_UNKNOWN_DEPENDENCY', 'ghost'),
  );
  assert.equal(orch.getWorker('late'), undefined);
  assert.equal(orch.getStatus().workers, 1);
  assert.throws(
    () => orch.registerWorker('late', fn, { executionMode: TRIGGERED, blocks: ['ghost'] }),
    isCode('ERR_UNKNOWN_DEPENDENCY', 'ghost'),
  );
  assert.equal(orch.getWorker('late'), undefined);
  assert.throws(
    () => orch.registerWorker('self', fn, { executionMode: TRIGGERED, dependsOn: ['self'] }),
    isCode('ERR_DEPENDENCY_CYCLE', 'self'),
  );
  assert.equal(orch.getWorker('self'), undefined);
  // The name is free: a valid registration works and runs.
  orch.registerWorker('late', fn, { executionMode: TRIGGERED, dependsOn: ['base'] });
  assert.equal(await orch.run('late'), 'ok');
});

test('blocks: symmetric mutual exclusion; runs of A and B never overlap', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  const spans: Record<'A' | 'B', [number, number][]> = { A: [], B: [] };
  const body = (k: 'A' | 'B') => async () => {
    const start = performance.now();
    await sleep(5 + Math.floor(Math.random() * 15));
    spans[k].push([start, performance.now()]);
  };
  orch.registerWorker('A', body('A'), { executionMode: TRIGGERED, concurrency: 2, blocks: ['B'] });
  orch.registerWorker('B', body('B'), { executionMode: TRIGGERED, concurrency: 2 });
  await orch.start();
  const runs: Promise<boolean>[] = [];
  for (let i = 0; i < 10; i++) runs.push(orch.triggerWorker('A'), orch.triggerWorker('B'));
  assert.deepEqual(await Promise.all(runs), Array(20).fill(true));
  assert.equal(spans.A.length, 10);
  assert.equal(spans.B.length, 10);
  for (const [as, ae] of spans.A) {
    for (const [bs, be] of spans.B) {
      assert.ok(ae <= bs || be <= as, `A [${as}, ${ae}] overlaps B [${bs}, ${be}]`);
    }
  }
});

test('blocks: both directions: A waits while B runs, and B waits while A runs', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  const holds = { A: gate(), B: gate() };
  const running = { A: 0, B: 0 };
  const starts: string[] = [];
  const body = (k: 'A' | 'B') => async (ctx: { payload: unknown }) => {
    running[k]++;
    starts.push(`${k}:${String(ctx.payload)}`);
    if (ctx.payload === 'hold') await holds[k].opened;
    running[k]--;
  };
  orch.registerWorker('A', body('A'), { executionMode: TRIGGERED, blocks: ['B'] });
  orch.registerWorker('B', body('B'), { executionMode: TRIGGERED });
  await orch.start();

  // B runs: A (which lists B in blocks) must wait.
  const bHeld = orch.run('B', 'hold');
  await waitFor(() => running.B === 1, 2000, 'B to run');
  const aWaiting = orch.run('A', 'after-b');
  await sleep(150);
  assert.equal(running.A, 0, 'A started while B was running');
  holds.B.open();
  await Promise.all([bHeld, aWaiting]);

  // A runs: B (blocked by A) must wait too.
  const aHeld = orch.run('A', 'hold');
  await waitFor(() => running.A === 1, 2000, 'A to run');
  const bWaiting = orch.run('B', 'after-a');
  await sleep(150);
  assert.equal(running.B, 0, 'B started while A was running');
  holds.A.open();
  await Promise.all([aHeld, bWaiting]);
  assert.deepEqual(starts, ['B:hold', 'A:after-b', 'A:hold', 'B:after-a']);
});
