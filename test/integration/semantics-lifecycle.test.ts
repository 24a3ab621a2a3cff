// Lifecycle (README: API, Health, logging and shutdown): start, graceful stop, StopReport, state transitions, restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type StopReport, WorkerExecutionMode } from '../../src/index.ts';
import { isCode, isRunError, useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED } = WorkerExecutionMode;

test('stop(): queued runs are rejected as aborted and counted in dropped; in-flight runs complete', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 1, shutdownTimeoutMs: 5000 });
  let slowEnded = false;
  let queuedCalls = 0;
  orch.registerWorker(
    'slow',
    async () => {
      await sleep(150);
      slowEnded = true;
      return 'slow done';
    },
    { executionMode: TRIGGERED },
  );
  orch.registerWorker(
    'q',
    () => {
      queuedCalls++;
    },
    { executionMode: TRIGGERED },
  );
  await orch.start();
  const inFlight = orch.run('slow');
  await waitFor(() => orch.getStatus().workerStates.slow?.running === true, 2000, 'slow to run');
  const queued = [orch.run('q', 1), orch.run('q', 2), orch.run('q', 3)];
  const triggered = orch.triggerWorker('q', 4);
  assert.equal(orch.getStatus().queued, 4);

  const outcomes = Promise.allSettled(queued); // handled now: they reject during stop()
  const report = await orch.stop();
  for (const outcome of await outcomes) {
    assert.equal(outcome.status, 'rejected');
    isRunError('aborted', 0)((outcome as PromiseRejectedResult).reason);
  }
  assert.equal(await triggered, true, 'a queued trigger resolves true when stop() aborts it');
  assert.equal(await inFlight, 'slow done');
  assert.equal(slowEnded, true);
  assert.equal(queuedCalls, 0);
  assert.equal(report.dropped, 4);
  assert.deepEqual(report.completed, ['slow']);
  assert.deepEqual(report.terminated, []);
  assert.equal(report.requeued, 0);
  assert.equal(orch.deadLetters.list().length, 0, 'aborted runs are not dead letters');
});

test('stop(): a run outliving shutdownTimeoutMs is terminated: report.terminated, ctx.signal aborted', async (t) => {
  const orch = useOrchestrator(t, { shutdownTimeoutMs: 200 });
  let signal: AbortSignal | undefined;
  orch.registerWorker(
    'stubborn',
    (ctx) => {
      signal = ctx.signal;
      return new Promise(() => undefined); // ignores its signal
    },
    { executionMode: TRIGGERED },
  );
  orch.registerWorker('quick', () => sleep(50), { executionMode: TRIGGERED });
  await orch.start();
  const stubborn = orch.run('stubborn');
  stubborn.catch(() => undefined); // rejects during stop(): checked below
  const quick = orch.run('quick');
  await waitFor(() => signal !== undefined, 2000, 'stubborn to run');
  const started = Date.now();
  const report = await orch.stop();
  const took = Date.now() - started;
  await assert.rejects(stubborn, isRunError('aborted'));
  await quick;
  assert.equal(signal?.aborted, true);
  assert.deepEqual(report.terminated, ['stubborn']);
  assert.deepEqual(report.completed, ['quick']);
  assert.equal(report.dropped, 0);
  assert.ok(took >= 150 && took < 3000, `stop() took ${took} ms with shutdownTimeoutMs 200`);
  const status = orch.getStatus().workerStates.stubborn;
  assert.equal(status?.failures, 0, 'a run ended by stop() fed the breaker');
  assert.equal(orch.deadLetters.list().length, 0);
});

test('lifecycle: state stopped -> running -> stopping -> stopped; started/stopped events', async (t) => {
  const orch = useOrchestrator(t, { shutdownTimeoutMs: 5000 });
  const events: { event: string; payload: unknown }[] = [];
  orch.on('orchestrator:started', (payload) => events.push({ event: 'started', payload }));
  orch.on('orchestrator:stopped', (payload) => events.push({ event: 'stopped', payload }));
  orch.registerWorker('w', () => sleep(100), { executionMode: TRIGGERED });
  assert.equal(orch.getStatus().state, 'stopped');
  await orch.start();
  assert.equal(orch.getStatus().state, 'running');
  assert.deepEqual(events, [{ event: 'started', payload: {} }]);
  const run = orch.run('w');
  await waitFor(() => orch.getStatus().running === 1, 2000, 'the run');
  const stopping = orch.stop();
  assert.equal(orch.getStatus().state, 'stopping');
  await assert.rejects(orch.run('w'), isCode('ERR_NOT_RUNNING'), 'run() while stopping');
  assert.equal(await orch.triggerWorker('w'), false, 'triggerWorker while stopping');
  const report = await stopping;
  await run;
  assert.equal(orch.getStatus().state, 'stopped');
  assert.equal(events.length, 2);
  assert.deepEqual(events[1], { event: 'stopped', payload: report });
  assert.deepEqual(report.completed, ['w']);
});

test('lifecycle: run before start / after stop rejects ERR_NOT_RUNNING; start() again after stop() works', async (t) => {
  const orch = useOrchestrator(t);
  let scheduled = 0;
  orch.registerWorker('w', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  orch.registerWorker(
    's',
    () => {
      scheduled++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05 },
  );
  await assert.rejects(orch.run('w'), isCode('ERR_NOT_RUNNING'));
  await orch.start();
  assert.equal(await orch.run('w', 1), 1);
  await waitFor(() => scheduled >= 2, 2000, 'scheduled runs');
  await orch.stop();
  await assert.rejects(orch.run('w'), isCode('ERR_NOT_RUNNING'));
  assert.equal(await orch.triggerWorker('w'), false);
  const frozen = scheduled;
  await sleep(200);
  assert.equal(scheduled, frozen, 'a scheduled run happened after stop()');

  await orch.start();
  assert.equal(orch.getStatus().state, 'running');
  assert.equal(await orch.run('w', 2), 2);
  await waitFor(() => scheduled >= frozen + 2, 2000, 'the schedule to resume after restart');
});

test('lifecycle: stop() twice (concurrently and again) is safe', async (t) => {
  const orch = useOrchestrator(t, { shutdownTimeoutMs: 1000 });
  orch.registerWorker('w', () => sleep(50), { executionMode: TRIGGERED });
  assert.deepEqual(await orch.stop(), { completed: [], terminated: [], requeued: 0, dropped: 0 });
  await orch.start();
  const run = orch.run('w');
  await waitFor(() => orch.getStatus().running === 1, 2000, 'the run');
  const [a, b] = await Promise.all([orch.stop(), orch.stop()]);
  await run;
  assert.deepEqual(a, b);
  assert.deepEqual((a as StopReport).completed, ['w']);
  const again = await orch.stop();
  assert.deepEqual(again, { completed: [], terminated: [], requeued: 0, dropped: 0 });
  assert.equal(orch.getStatus().state, 'stopped');
});

test('lifecycle: a run in retry backoff at stop() is aborted, not retried after stop', async (t) => {
  const orch = useOrchestrator(t, { shutdownTimeoutMs: 300 });
  let calls = 0;
  orch.registerWorker(
    'flaky',
    () => {
      calls++;
      throw new Error('fails');
    },
    { executionMode: TRIGGERED, maxRetries: 5, retryDelayMs: 60_000 },
  );
  await orch.start();
  const run = orch.run('flaky');
  run.catch(() => undefined); // rejects during stop(): checked below
  await waitFor(() => calls === 1, 2000, 'the first attempt');
  await orch.stop();
  await assert.rejects(run, isRunError('aborted'));
  assert.equal(calls, 1);
  assert.equal(orch.deadLetters.list().length, 0);
});
