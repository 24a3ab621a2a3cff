// Dead-letter queue (README: Dead letters): what is recorded, replay, remove, list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DeadLetter,
  OrchestratorError,
  WorkerExecutionMode,
  WorkerOrchestrator,
} from '../../src/index.ts';
import { isRunError, useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED, CONTINUOUS } = WorkerExecutionMode;

/** A TRIGGERED worker that fails while `state.fail` is true and otherwise returns its payload. */
function switchable(orch: WorkerOrchestrator, name: string, options = {}) {
  const state = { fail: true, calls: 0, payloads: [] as unknown[] };
  orch.registerWorker(
    name,
    (ctx) => {
      state.calls++;
      state.payloads.push(ctx.payload);
      if (state.fail) throw new Error(`${name} failed (call ${state.calls})`);
      return { echoed: ctx.payload };
    },
    { executionMode: TRIGGERED, maxRetries: 1, retryDelayMs: 0, maxConsecutiveFailures: 100, ...options },
  );
  return state;
}

test('dead letters: a run() that fails after its last attempt is recorded once, with its payload', async (t) => {
  const orch = useOrchestrator(t);
  const events: { name: string; entry: DeadLetter }[] = [];
  orch.on('worker:dead-letter', (e) => events.push(e));
  switchable(orch, 'job');
  await orch.start();
  const payload = { order: 42, items: ['a', 'b'] };
  await assert.rejects(orch.run('job', payload), isRunError('error', 2));

  const list = orch.deadLetters.list();
  assert.equal(list.length, 1);
  const entry = list[0] as DeadLetter;
  assert.deepEqual(Object.keys(entry).sort(), [
    'attempts',
    'error',
    'failedAt',
    'id',
    'name',
    'payload',
    'reason',
  ]);
  assert.equal(typeof entry.id, 'string');
  assert.ok(entry.id.length > 0);
  assert.equal(entry.name, 'job');
  assert.deepEqual(entry.payload, payload);
  assert.equal(entry.reason, 'error');
  assert.equal(typeof entry.error, 'string');
  assert.ok(entry.error.length > 0);
  assert.equal(entry.attempts, 2);
  assert.equal(new Date(entry.failedAt).toISOString(), entry.failedAt);

  assert.equal(events.length, 1);
  assert.equal(events[0]?.name, 'job');
  assert.deepEqual(events[0]?.entry, entry);
});

test('dead letters: a failed triggerWorker run and a failed pipeline run are recorded too', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'trig', { maxRetries: 0 });
  orch.registerWorker('source', () => 'ok', { executionMode: TRIGGERED });
  let pipelineCalls = 0;
  orch.registerWorker(
    'sink',
    () => {
      pipelineCalls++;
      throw new Error('sink failed');
    },
    { executionMode: TRIGGERED, dependsOn: ['source'], maxRetries: 0 },
  );
  await orch.start();
  assert.equal(await orch.triggerWorker('trig', { n: 1 }), true);
  const trig = orch.deadLetters.list('trig');
  assert.equal(trig.length, 1);
  assert.deepEqual(trig[0]?.payload, { n: 1 });
  assert.equal(trig[0]?.attempts, 1);

  await orch.run('source');
  await waitFor(() => orch.deadLetters.list('sink').length === 1, 3000, 'the pipeline dead letter');
  assert.equal(pipelineCalls, 1);
  assert.equal(orch.deadLetters.list('sink')[0]?.payload, undefined);
});

test('dead letters: SCHEDULED and CONTINUOUS failures are not dead letters', async (t) => {
  const orch = useOrchestrator(t);
  let events = 0;
  orch.on('worker:dead-letter', () => events++);
  const opts = { maxRetries: 0, retryDelayMs: 0, maxConsecutiveFailures: 1000 };
  orch.registerWorker(
    'sched',
    () => {
      throw new Error('scheduled failure');
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05, ...opts },
  );
  orch.registerWorker(
    'cont',
    () => {
      throw new Error('continuous failure');
    },
    { executionMode: CONTINUOUS, ...opts },
  );
  await orch.start();
  await waitFor(
    () =>
      (orch.getStatus().workerStates.sched?.totals.failed ?? 0) >= 2 &&
      (orch.getStatus().workerStates.cont?.totals.failed ?? 0) >= 2,
    5000,
    'failures of both',
  );
  assert.equal(orch.deadLetters.list().length, 0);
  assert.equal(events, 0);
  assert.equal(orch.getStatus().workerStates.sched?.lastFailureReason, 'error');
});

test('dead letters: aborted runs (caller signal, stop) are not dead letters', async (t) => {
  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: 1, shutdownTimeoutMs: 200 });
  t.after(() => orch.stop());
  orch.registerWorker(
    'hang',
    (ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
    { executionMode: TRIGGERED, maxRetries: 2, retryDelayMs: 0 },
  );
  await orch.start();
  const controller = new AbortController();
  const running = orch.run('hang', 'running', { signal: controller.signal });
  await waitFor(() => orch.getStatus().workerStates.hang?.running === true, 2000, 'the run to start');
  const queued = orch.run('hang', 'queued');
  queued.catch(() => undefined); // rejects during stop(): checked below
  controller.abort();
  await assert.rejects(running, isRunError('aborted'));
  // The queued one now runs; stop() terminates it after shutdownTimeoutMs.
  await waitFor(() => orch.getStatus().workerStates.hang?.running === true, 2000, 'the second run');
  const report = await orch.stop();
  await assert.rejects(queued, isRunError('aborted'));
  assert.deepEqual(report.terminated, ['hang']);
  assert.equal(orch.deadLetters.list().length, 0);
  assert.equal(orch.getStatus().workerStates.hang?.failures, 0, 'aborted runs fed the breaker');
});

test('dead letters: replay that succeeds removes the entry and resolves with the result', async (t) => {
  const orch = useOrchestrator(t);
  const w = switchable(orch, 'job');
  await orch.start();
  await assert.rejects(orch.run('job', { id: 'x' }));
  const [entry] = orch.deadLetters.list();
  assert.ok(entry !== undefined);
  w.fail = false;
  assert.deepEqual(await orch.deadLetters.replay(entry.id), { echoed: { id: 'x' } });
  assert.deepEqual(w.payloads.at(-1), { id: 'x' }, 'the replay ran with the stored payload');
  assert.equal(orch.deadLetters.list().length, 0);
  assert.equal(orch.deadLetters.remove(entry.id), false);
});

test('dead letters: a replay that fails again keeps ONE entry with attempts, error and failedAt updated', async (t) => {
  const orch = useOrchestrator(t);
  const dead: DeadLetter[] = [];
  orch.on('worker:dead-letter', (e) => dead.push(e.entry));
  let calls = 0;
  orch.registerWorker(
    'job',
    () => {
      calls++;
      // The first run fails at once (not retryable); the replay uses every attempt.
      throw Object.assign(new Error(`failure ${calls}`), { retryable: calls > 1 });
    },
    { executionMode: TRIGGERED, maxRetries: 2, retryDelayMs: 0, maxConsecutiveFailures: 100 },
  );
  await orch.start();
  await assert.rejects(orch.run('job', 'p'), isRunError('error', 1));
  const [before] = orch.deadLetters.list();
  assert.ok(before !== undefined);
  assert.equal(before.attempts, 1);
  await sleep(20);
  await assert.rejects(orch.deadLetters.replay(before.id), isRunError('error', 3));
  const list = orch.deadLetters.list();
  assert.equal(list.length, 1, 'a failed replay added an entry');
  const after = list[0] as DeadLetter;
  assert.equal(after.id, before.id);
  assert.equal(after.payload, 'p');
  assert.equal(after.attempts, 3);
  assert.notEqual(after.error, before.error);
  assert.ok(Date.parse(after.failedAt) > Date.parse(before.failedAt), 'failedAt was not updated');
  assert.equal(dead.length, 2);
});

test('dead letters: remove(id) true then false; list(name) filters; replay of an unknown id rejects', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'a', { maxRetries: 0 });
  switchable(orch, 'b', { maxRetries: 0 });
  await orch.start();
  await Promise.allSettled([orch.run('a', 1), orch.run('b', 2), orch.run('a', 3)]);
  assert.equal(orch.deadLetters.list().length, 3);
  const onlyA = orch.deadLetters.list('a');
  assert.deepEqual(onlyA.map((e) => e.name).sort(), ['a', 'a']);
  assert.deepEqual(onlyA.map((e) => e.payload).sort(), [1, 3]);
  assert.deepEqual(
    orch.deadLetters.list('b').map((e) => e.payload),
    [2],
  );
  assert.deepEqual(orch.deadLetters.list('nobody'), []);

  const id = (onlyA[0] as DeadLetter).id;
  assert.equal(orch.deadLetters.remove(id), true);
  assert.equal(orch.deadLetters.remove(id), false);
  assert.equal(orch.deadLetters.list('a').length, 1);
  await assert.rejects(orch.deadLetters.replay(id), (error: unknown) => {
    assert.ok(error instanceof OrchestratorError, `expected an OrchestratorError, got ${String(error)}`);
    return true;
  });
  await assert.rejects(orch.deadLetters.replay('no-such-id'));
});
