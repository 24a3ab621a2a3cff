// Failures, retries and the circuit breaker (README: Worker options, Semantics), with inline function workers.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobPriority, WorkerExecutionMode, type WorkerOrchestrator } from '../../src/index.ts';
import { gate, isCode, isRunError, useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED } = WorkerExecutionMode;

/** A TRIGGERED worker whose runs fail while `state.fail` is true. */
function switchable(orch: WorkerOrchestrator, name: string, options = {}) {
  const state = { fail: true, calls: 0 };
  orch.registerWorker(
    name,
    () => {
      state.calls++;
      if (state.fail) throw new Error(`${name} failed`);
      return 'ok';
    },
    { executionMode: TRIGGERED, maxRetries: 0, ...options },
  );
  return state;
}

test('breaker: opens after maxConsecutiveFailures failed runs; enableWorker closes it', async (t) => {
  const orch = useOrchestrator(t);
  const disabled: { name: string; consecutiveFailures: number }[] = [];
  const enabled: { name: string }[] = [];
  orch.on('worker:disabled', (e) => disabled.push(e));
  orch.on('worker:enabled', (e) => enabled.push(e));
  const w = switchable(orch, 'flappy', { maxConsecutiveFailures: 3 });
  await orch.start();

  for (let i = 1; i <= 3; i++) {
    await assert.rejects(orch.run('flappy'), isRunError('error', 1));
    if (i < 3) {
      assert.equal(orch.getStatus().workerStates.flappy?.breaker, 'closed');
      assert.equal(orch.getStatus().workerStates.flappy?.failures, i);
    }
  }
  assert.deepEqual(disabled, [{ name: 'flappy', consecutiveFailures: 3 }]);
  const status = orch.getStatus().workerStates.flappy;
  assert.equal(status?.enabled, false);
  assert.equal(status?.breaker, 'open');
  assert.equal(status?.failures, 3);
  assert.equal(orch.getWorker('flappy')?.isEnabled, false);
  assert.equal(orch.getWorker('flappy')?.consecutiveFailures, 3);

  await assert.rejects(orch.run('flappy'), isCode('ERR_WORKER_DISABLED'));
  assert.equal(await orch.triggerWorker('flappy'), false);
  await sleep(100);
  assert.equal(w.calls, 3, 'an open breaker let a run through');
  assert.equal(disabled.length, 1, 'worker:disabled emitted more than once');

  orch.enableWorker('flappy');
  assert.deepEqual(enabled, [{ name: 'flappy' }]);
  const after = orch.getStatus().workerStates.flappy;
  assert.equal(after?.breaker, 'closed');
  assert.equal(after?.failures, 0);
  assert.equal(after?.enabled, true);
  w.fail = false;
  assert.equal(await orch.run('flappy'), 'ok');
});

test('breaker: a success resets consecutiveFailures', async (t) => {
  const orch = useOrchestrator(t);
  const w = switchable(orch, 'w', { maxConsecutiveFailures: 3 });
  await orch.start();
  await assert.rejects(orch.run('w'));
  await assert.rejects(orch.run('w'));
  assert.equal(orch.getStatus().workerStates.w?.failures, 2);
  w.fail = false;
  await orch.run('w');
  assert.equal(orch.getStatus().workerStates.w?.failures, 0);
  assert.equal(orch.getWorker('w')?.consecutiveFailures, 0);
  w.fail = true;
  await assert.rejects(orch.run('w'));
  await assert.rejects(orch.run('w'));
  const status = orch.getStatus().workerStates.w;
  assert.equal(status?.breaker, 'closed', 'the breaker counted failures from before the success');
  assert.equal(status?.enabled, true);
  assert.equal(status?.failures, 2);
});

test('breaker: consecutiveFailures counts failed runs, not attempts', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'w', { maxConsecutiveFailures: 3, maxRetries: 2, retryDelayMs: 0 });
  await orch.start();
  await assert.rejects(orch.run('w'), isRunError('error', 3));
  const status = orch.getStatus().workerStates.w;
  assert.equal(status?.failures, 1);
  assert.equal(status?.breaker, 'closed');
});

test('breaker cooldown: half-open after the cooldown; a successful trial closes it', async (t) => {
  const orch = useOrchestrator(t);
  const enabled: string[] = [];
  orch.on('worker:enabled', (e) => enabled.push(e.name));
  const w = switchable(orch, 'w', { maxConsecutiveFailures: 3, breakerCooldownSeconds: 0.3 });
  await orch.start();
  for (let i = 0; i < 3; i++) await assert.rejects(orch.run('w'));
  const openedAt = performance.now();
  assert.equal(orch.getStatus().workerStates.w?.breaker, 'open');
  await waitFor(() => orch.getStatus().workerStates.w?.breaker === 'half-open', 3000, 'half-open');
  assert.ok(performance.now() - openedAt >= 250, 'half-open before the cooldown');
  assert.equal(orch.getStatus().workerStates.w?.enabled, true);
  assert.equal(orch.getWorker('w')?.isEnabled, true);
  assert.equal(w.calls, 3, 'a TRIGGERED worker ran a trial on its own');

  w.fail = false;
  assert.equal(await orch.run('w'), 'ok');
  const status = orch.getStatus().workerStates.w;
  assert.equal(status?.breaker, 'closed');
  assert.equal(status?.failures, 0);
  assert.deepEqual(enabled, ['w']);
});

test('breaker cooldown: a failed trial re-opens it (and it goes half-open again later)', async (t) => {
  const orch = useOrchestrator(t);
  const disabled: number[] = [];
  orch.on('worker:disabled', (e) => disabled.push(e.consecutiveFailures));
  switchable(orch, 'w', { maxConsecutiveFailures: 2, breakerCooldownSeconds: 0.3 });
  await orch.start();
  for (let i = 0; i < 2; i++) await assert.rejects(orch.run('w'));
  await waitFor(() => orch.getStatus().workerStates.w?.breaker === 'half-open', 3000, 'half-open');
  await assert.rejects(orch.run('w'), isRunError('error'));
  const status = orch.getStatus().workerStates.w;
  assert.equal(status?.breaker, 'open');
  assert.equal(status?.enabled, false);
  assert.equal(disabled.length, 2, 'worker:disabled is emitted when the trial re-opens the breaker');
  await assert.rejects(orch.run('w'), isCode('ERR_WORKER_DISABLED'));
  await waitFor(() => orch.getStatus().workerStates.w?.breaker === 'half-open', 3000, 'half-open again');
});

test('breaker cooldown: while the half-open trial runs, no other run of the worker starts', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  let fail = true;
  let inFlight = 0;
  let maxInFlightDuringTrial = 0;
  let trial = false;
  const hold = gate();
  orch.registerWorker(
    'pair',
    async (ctx) => {
      inFlight++;
      if (trial) maxInFlightDuringTrial = Math.max(maxInFlightDuringTrial, inFlight);
      try {
        if (fail) throw new Error('fails');
        if (ctx.payload === 'trial') await hold.opened;
        return ctx.payload;
      } finally {
        inFlight--;
      }
    },
    {
      executionMode: TRIGGERED,
      concurrency: 2,
      maxRetries: 0,
      maxConsecutiveFailures: 2,
      breakerCooldownSeconds: 0.2,
    },
  );
  await orch.start();
  await Promise.allSettled([orch.run('pair'), orch.run('pair')]);
  assert.equal(orch.getStatus().workerStates.pair?.breaker, 'open');
  await waitFor(() => orch.getStatus().workerStates.pair?.breaker === 'half-open', 3000, 'half-open');
  fail = false;
  trial = true;
  const trialRun = orch.run('pair', 'trial');
  await waitFor(() => inFlight === 1, 2000, 'the trial to start');
  const other = orch.run('pair', 'other');
  await sleep(200);
  assert.equal(inFlight, 1, 'another run started during the half-open trial');
  assert.equal(orch.getStatus().workerStates.pair?.runningCount, 1);
  hold.open();
  assert.equal(await trialRun, 'trial');
  assert.equal(await other, 'other');
  assert.equal(maxInFlightDuringTrial, 1);
  assert.equal(orch.getStatus().workerStates.pair?.breaker, 'closed');
});

test('breaker cooldown: a SCHEDULED worker gets its half-open trial without a request', async (t) => {
  const orch = useOrchestrator(t);
  let fail = true;
  let calls = 0;
  orch.registerWorker(
    'sched',
    () => {
      calls++;
      if (fail) throw new Error('fails');
    },
    {
      executionMode: SCHEDULED,
      intervalSeconds: 0.05,
      maxRetries: 0,
      maxConsecutiveFailures: 2,
      breakerCooldownSeconds: 0.3,
    },
  );
  await orch.start();
  await waitFor(() => orch.getStatus().workerStates.sched?.breaker === 'open', 3000, 'the breaker to open');
  assert.equal(calls, 2);
  fail = false;
  await waitFor(() => calls === 3, 3000, 'the trial run');
  await waitFor(() => orch.getStatus().workerStates.sched?.breaker === 'closed', 2000, 'closed');
  await waitFor(() => calls >= 5, 3000, 'the schedule to resume');
});

test('retries: maxRetries 0 makes exactly one attempt', async (t) => {
  const orch = useOrchestrator(t);
  const w = switchable(orch, 'once', { maxRetries: 0, retryDelayMs: 0 });
  await orch.start();
  await assert.rejects(orch.run('once'), isRunError('error', 1));
  assert.equal(w.calls, 1);
  assert.equal(orch.getWorker('once')?.maxRetries, 0);
  assert.equal(orch.getStatus().workerStates.once?.totals.retries, 0);
});

test('retries: retryDelayMs 0 is honoured (no backoff wait)', async (t) => {
  const orch = useOrchestrator(t);
  const w = switchable(orch, 'fast', { maxRetries: 3, retryDelayMs: 0 });
  await orch.start();
  const started = performance.now();
  await assert.rejects(orch.run('fast'), isRunError('error', 4));
  const elapsed = performance.now() - started;
  assert.equal(w.calls, 4);
  assert.ok(elapsed < 500, `4 attempts with retryDelayMs 0 took ${elapsed} ms`);
  assert.equal(orch.getWorker('fast')?.retryDelayMs, 0);
});

test('retries: a worker failing twice then succeeding with maxRetries 2 resolves; events and totals', async (t) => {
  const orch = useOrchestrator(t);
  const starts: { attempt: number; runId: string; at: number }[] = [];
  const failures: { attempt: number; willRetry: boolean; reason: string; runId: string }[] = [];
  const successes: { attempt: number; runId: string; result: unknown }[] = [];
  orch.on('worker:start', (e) => starts.push({ attempt: e.attempt, runId: e.runId, at: performance.now() }));
  orch.on('worker:failure', (e) =>
    failures.push({ attempt: e.attempt, willRetry: e.willRetry, reason: e.reason, runId: e.runId }),
  );
  orch.on('worker:success', (e) => successes.push({ attempt: e.attempt, runId: e.runId, result: e.result }));
  const seenAttempts: number[] = [];
  orch.registerWorker(
    'flaky',
    (ctx) => {
      seenAttempts.push(ctx.attempt);
      if (ctx.attempt <= 2) throw new Error(`flaky attempt ${ctx.attempt}`);
      return { attempt: ctx.attempt };
    },
    { executionMode: TRIGGERED, maxRetries: 2, retryDelayMs: 100 },
  );
  await orch.start();
  assert.deepEqual(await orch.run('flaky'), { attempt: 3 });
  assert.deepEqual(seenAttempts, [1, 2, 3]);
  assert.deepEqual(
    starts.map((s) => s.attempt),
    [1, 2, 3],
  );
  assert.deepEqual(
    failures.map((f) => [f.attempt, f.willRetry, f.reason]),
    [
      [1, true, 'error'],
      [2, true, 'error'],
    ],
  );
  assert.deepEqual(
    successes.map((s) => [s.attempt, s.result]),
    [[3, { attempt: 3 }]],
  );
  const runIds = new Set([...starts, ...failures, ...successes].map((e) => e.runId));
  assert.equal(runIds.size, 1, 'all attempts belong to one run');
  const totals = orch.getStatus().workerStates.flaky?.totals;
  assert.deepEqual(totals, { runs: 1, succeeded: 1, failed: 0, retries: 2, timeouts: 0, crashes: 0 });
  // Full jitter: each backoff is in [0, 100 * 2^(n-1)], so attempt 1 -> 3 takes at most ~300 ms.
  const span = (starts[2]?.at as number) - (starts[0]?.at as number);
  assert.ok(span >= 0 && span < 100 + 200 + 400, `attempt 1 to attempt 3 took ${span} ms`);
  assert.equal(orch.deadLetters.list().length, 0);
});

test('retries: an error with retryable === false skips the remaining attempts', async (t) => {
  const orch = useOrchestrator(t);
  let calls = 0;
  orch.registerWorker(
    'fatal',
    () => {
      calls++;
      throw Object.assign(new Error('do not retry'), { retryable: false });
    },
    { executionMode: TRIGGERED, maxRetries: 3, retryDelayMs: 0 },
  );
  await orch.start();
  await assert.rejects(orch.run('fatal'), isRunError('error', 1));
  assert.equal(calls, 1);
});

test('defaults apply with ??: 0 values are honoured, timeoutSeconds 0 is refused', async (t) => {
  const orch = useOrchestrator(t);
  const fn = () => undefined;
  assert.throws(
    () => orch.registerWorker('t0', fn, { executionMode: TRIGGERED, timeoutSeconds: 0 }),
    isCode('ERR_INVALID_OPTION'),
  );
  orch.registerWorker('zeros', fn, {
    executionMode: TRIGGERED,
    maxRetries: 0,
    retryDelayMs: 0,
    maxQueue: 0,
    breakerCooldownSeconds: 0,
    priority: JobPriority.LOW,
  });
  const config = orch.getWorker('zeros');
  assert.equal(config?.maxRetries, 0);
  assert.equal(config?.retryDelayMs, 0);
  assert.equal(config?.maxQueue, 0);
  assert.equal(config?.breakerCooldownSeconds, 0);
  assert.equal(config?.priority, JobPriority.LOW);
});
