/**
 * Regression tests for bugs found in code review (each would fail on the code before the fix):
 * NUL bytes in env / execArgv, breaker stragglers, lost schedules, cooldowns across stop/start,
 * cancellation from event listeners, uncloneable payloads, stale thread heartbeats, huge times, and
 * registering long dependency chains while running.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WorkerExecutionMode, type WorkerOrchestrator } from '../../src/index.ts';
import {
  fixture,
  gate,
  isCode,
  isRunError,
  killLeftover,
  registerIsolated,
  runError,
  settle,
  tmpFile,
  useOrchestrator,
  waitFor,
} from '../helpers.ts';

const { SCHEDULED, TRIGGERED } = WorkerExecutionMode;

const srcIndex = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `promise`'s value, or undefined if it takes longer than `ms` (the timer does not outlive it). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How many ref'd timers keep this process alive. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/** The breaker state of `name` in getStatus(). */
function breakerOf(orch: WorkerOrchestrator, name: string) {
  return orch.getStatus().workerStates[name]?.breaker;
}

// 1. fork() throws synchronously on a NUL byte: such values must be refused at registration.
test('registerWorker refuses env keys / values and execArgv entries holding a NUL byte (ERR_INVALID_OPTION)', (t) => {
  const orch = useOrchestrator(t);
  const echo = fixture('echo.mjs');
  const base = { executionMode: TRIGGERED };
  assert.throws(
    () => orch.registerWorker('envValue', echo, { ...base, isolation: 'process', env: { A: 'x\u0000y' } }),
    isCode('ERR_INVALID_OPTION', 'env'),
  );
  assert.throws(
    () => orch.registerWorker('envKey', echo, { ...base, isolation: 'process', env: { 'A\u0000B': 'x' } }),
    isCode('ERR_INVALID_OPTION', 'env'),
  );
  for (const isolation of ['process', 'thread'] as const) {
    assert.throws(
      () =>
        orch.registerWorker(`argv-${isolation}`, echo, {
          ...base,
          isolation,
          execArgv: ['--no-warnings\u0000'],
        }),
      isCode('ERR_INVALID_OPTION', 'execArgv'),
    );
  }
  assert.equal(orch.getStatus().workers, 0, 'a refused worker was registered');
});

// 2. Only the half-open trial decides a breaker that is not closed; runs already in flight do not.
test('breaker: a straggler that succeeds after the breaker opened (cooldown null) does not close it', async (t) => {
  const orch = useOrchestrator(t);
  const events: string[] = [];
  orch.on('worker:disabled', () => events.push('disabled'));
  orch.on('worker:enabled', () => events.push('enabled'));
  const hold = gate();
  let started = 0;
  orch.registerWorker(
    'w',
    async (ctx) => {
      started++;
      if ((ctx.payload as { fail: boolean }).fail) throw new Error('boom');
      await hold.opened;
      return 'ok';
    },
    {
      executionMode: TRIGGERED,
      concurrency: 2,
      maxRetries: 0,
      maxConsecutiveFailures: 1,
      breakerCooldownSeconds: null,
    },
  );
  await orch.start();
  const straggler = settle(orch.run('w', { fail: false }));
  await waitFor(() => started === 1, 2000, 'the straggler to start');
  await assert.rejects(orch.run('w', { fail: true }), isRunError('error', 1));
  assert.equal(breakerOf(orch, 'w'), 'open');

  hold.open();
  const outcome = await straggler;
  assert.deepEqual(outcome.ok && outcome.value, 'ok', 'the straggler itself succeeds');
  const status = orch.getStatus().workerStates.w;
  assert.equal(status?.breaker, 'open', 'a straggler success closed the breaker');
  assert.equal(status?.enabled, false);
  assert.equal(orch.getWorker('w')?.isEnabled, false);
  assert.deepEqual(events, ['disabled'], 'no worker:enabled without enableWorker()');
  await assert.rejects(orch.run('w', { fail: false }), isCode('ERR_WORKER_DISABLED'));
});

test('breaker cooldown: a straggler failing while half-open does not re-open it while the trial runs', async (t) => {
  const orch = useOrchestrator(t);
  const events: string[] = [];
  orch.on('worker:disabled', () => events.push('disabled'));
  orch.on('worker:enabled', () => events.push('enabled'));
  const stragglerGate = gate();
  const trialGate = gate();
  const started: string[] = [];
  orch.registerWorker(
    'w',
    async (ctx) => {
      const kind = ctx.payload as string;
      started.push(kind);
      if (kind === 'fail') throw new Error('fails at once');
      if (kind === 'straggler') {
        await stragglerGate.opened;
        throw new Error('straggler fails late');
      }
      await trialGate.opened;
      return 'trial ok';
    },
    {
      executionMode: TRIGGERED,
      concurrency: 2,
      maxRetries: 0,
      maxConsecutiveFailures: 1,
      breakerCooldownSeconds: 0.2,
    },
  );
  await orch.start();
  const straggler = settle(orch.run('w', 'straggler'));
  await waitFor(() => started.includes('straggler'), 2000, 'the straggler to start');
  await assert.rejects(orch.run('w', 'fail'), isRunError('error', 1));
  assert.equal(breakerOf(orch, 'w'), 'open');
  await waitFor(() => breakerOf(orch, 'w') === 'half-open', 3000, 'half-open');

  const trial = settle(orch.run('w', 'trial'));
  await waitFor(() => started.includes('trial'), 2000, 'the trial to start');
  stragglerGate.open();
  const late = await straggler;
  assert.equal(runError(late).reason, 'error');
  assert.equal(
    breakerOf(orch, 'w'),
    'half-open',
    "a straggler's failure re-opened the breaker during the trial",
  );
  assert.equal(orch.getStatus().workerStates.w?.enabled, true);
  assert.deepEqual(events, ['disabled'], 'worker:disabled emitted again by a straggler');

  trialGate.open();
  const outcome = await trial;
  assert.deepEqual(outcome.ok && outcome.value, 'trial ok');
  assert.equal(breakerOf(orch, 'w'), 'closed', 'the successful trial closes the breaker');
  assert.deepEqual(events, ['disabled', 'enabled']);
});

// 3. A schedule must survive runs of the same worker that overlap its scheduled runs.
test('SCHEDULED: a run() overlapping a scheduled run (concurrency 2) does not lose the schedule', async (t) => {
  const orch = useOrchestrator(t);
  let scheduledRuns = 0;
  orch.registerWorker(
    'w',
    async (ctx) => {
      if (ctx.payload === undefined) {
        scheduledRuns++;
        await sleep(30); // still running when the requested run starts
        return;
      }
      await sleep(300); // the requested run: ends after the scheduled one
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.2, concurrency: 2 },
  );
  await orch.start();
  await waitFor(() => scheduledRuns === 1, 2000, 'the first scheduled run');
  await orch.run('w', { slow: true });
  const after = scheduledRuns;
  await waitFor(() => scheduledRuns >= after + 3, 3000, 'three more scheduled runs (interval 0.2 s)');
  await waitFor(
    () => orch.getStatus().workerStates.w?.nextRunAt !== undefined,
    2000,
    'nextRunAt to reappear',
  );
});

test('SCHEDULED: disableWorker + enableWorker while a requested run is in flight keeps the schedule', async (t) => {
  const orch = useOrchestrator(t);
  let scheduledRuns = 0;
  let requestedStarted = false;
  orch.registerWorker(
    'w',
    async (ctx) => {
      if (ctx.payload === undefined) {
        scheduledRuns++;
        return;
      }
      requestedStarted = true;
      await sleep(300);
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.2 },
  );
  await orch.start();
  await waitFor(() => scheduledRuns === 1, 2000, 'the first scheduled run');
  const requested = orch.run('w', { slow: true });
  await waitFor(() => requestedStarted, 2000, 'the requested run to start');
  orch.disableWorker('w');
  orch.enableWorker('w');
  await requested;
  const after = scheduledRuns;
  await waitFor(() => scheduledRuns >= after + 3, 3000, 'scheduled runs to resume');
  await waitFor(
    () => orch.getStatus().workerStates.w?.nextRunAt !== undefined,
    2000,
    'nextRunAt to reappear',
  );
});

// 4. A breaker cooldown outlives a restart, and never the orchestrator.
test('breaker cooldown: an open breaker still goes half-open after stop() + start()', async (t) => {
  const orch = useOrchestrator(t);
  let fail = true;
  orch.registerWorker(
    'w',
    () => {
      if (fail) throw new Error('boom');
      return 'ok';
    },
    { executionMode: TRIGGERED, maxRetries: 0, maxConsecutiveFailures: 1, breakerCooldownSeconds: 0.2 },
  );
  await orch.start();
  await assert.rejects(orch.run('w'), isRunError('error', 1));
  assert.equal(breakerOf(orch, 'w'), 'open');
  await orch.stop();
  await orch.start();
  await waitFor(() => breakerOf(orch, 'w') === 'half-open', 2000, 'half-open after the restart');
  fail = false;
  assert.equal(await orch.run('w'), 'ok', 'the half-open trial is accepted');
  assert.equal(breakerOf(orch, 'w'), 'closed');
});

test('breaker cooldown: no cooldown timer keeps the host alive after stop() (breaker opened during the grace period)', async (t) => {
  const script = tmpFile('.mts');
  writeFileSync(
    script,
    `import { WorkerExecutionMode, WorkerOrchestrator } from ${JSON.stringify(srcIndex)};
const orch = new WorkerOrchestrator({ logger: false });
orch.registerWorker(
  'w',
  async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    throw new Error('boom');
  },
  { executionMode: WorkerExecutionMode.TRIGGERED, maxRetries: 0, maxConsecutiveFailures: 1, breakerCooldownSeconds: 30 },
);
await orch.start();
const run = orch.run('w').catch(() => undefined);
await new Promise((resolve) => setTimeout(resolve, 20));
const report = await orch.stop();
await run;
process.stdout.write(JSON.stringify({ breaker: orch.getStatus().workerStates.w.breaker, completed: report.completed }) + '\\n');
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  t.after(() => {
    if (pid !== undefined) killLeftover(pid);
  });
  let stdout = '';
  let stderr = '';
  let stoppedAt: number | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stoppedAt === undefined && stdout.includes('\n')) stoppedAt = performance.now();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => {
    child.once('exit', (code) => resolve({ code, at: performance.now() }));
  });
  await waitFor(() => stoppedAt !== undefined || child.exitCode !== null, 20_000, 'the child to stop()');
  assert.ok(stoppedAt !== undefined, `the child ended before stop() resolved: ${stderr}`);
  const report = JSON.parse(stdout.trim()) as { breaker: string; completed: string[] };
  assert.deepEqual(
    report,
    { breaker: 'open', completed: ['w'] },
    'the breaker opened during the grace period',
  );
  const exit = await within(exited, 5000);
  assert.ok(exit !== undefined, 'the child is still alive 5 s after stop() resolved (cooldown 30 s)');
  assert.equal(exit.code, 0, stderr);
  assert.ok(
    exit.at - stoppedAt < 2000,
    `the child exited ${Math.round(exit.at - stoppedAt)} ms after stop()`,
  );
});

// 5. Cancellation asked for from an event listener reaches the run.
test('abort from a worker:start listener: the run rejects with reason aborted and is no dead letter', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker(
    'slow',
    async () => {
      await sleep(300);
      return 'finished';
    },
    // A short timeout: see the next test (a deadline timer may outlive the cancelled run).
    { executionMode: TRIGGERED, timeoutSeconds: 3 },
  );
  await orch.start();
  const ac = new AbortController();
  orch.on('worker:start', (e) => {
    if (e.name === 'slow') ac.abort(new Error('cancelled from worker:start'));
  });
  const outcome = await settle(orch.run('slow', null, { signal: ac.signal }));
  assert.ok(ac.signal.aborted);
  const error = runError(outcome);
  assert.equal(error.reason, 'aborted');
  assert.deepEqual(orch.deadLetters.list(), []);
  assert.equal(orch.getStatus().workerStates.slow?.failures, 0, 'an aborted run fed the breaker');
});

test('abort from a worker:start listener: the cancelled attempt is not started afterwards (no call, no deadline timer left)', async (t) => {
  const timersBefore = activeTimers();
  const orch = useOrchestrator(t);
  const calls: { signalAborted: boolean }[] = [];
  orch.registerWorker(
    'slow',
    async (ctx) => {
      const call = { signalAborted: false };
      calls.push(call);
      await sleep(200);
      call.signalAborted = ctx.signal.aborted;
      return 'finished';
    },
    // A short timeout: a deadline timer left behind keeps the host alive only this long.
    { executionMode: TRIGGERED, timeoutSeconds: 3 },
  );
  registerIsolated(orch, 'thread', fixture('sleep.mjs'), 'thread', { timeoutSeconds: 3 });
  await orch.start();
  for (const name of ['slow', 'thread']) {
    const ac = new AbortController();
    const onStart = (e: { name: string }) => {
      if (e.name === name) ac.abort(new Error('cancelled from worker:start'));
    };
    orch.on('worker:start', onStart);
    const error = runError(await settle(orch.run(name, { ms: 200 }, { signal: ac.signal })));
    orch.off('worker:start', onStart);
    assert.equal(error.reason, 'aborted', name);
  }
  await sleep(400); // the inline function, if it was called anyway, has ended by now
  await orch.stop();
  const problems: string[] = [];
  if (!calls.every((call) => call.signalAborted)) {
    problems.push(
      'the inline worker function of the cancelled run was called anyway, its ctx.signal never aborted',
    );
  }
  const leftTimers = activeTimers() - timersBefore;
  if (leftTimers > 0) {
    problems.push(
      `${leftTimers} timer(s) (attempt deadlines) outlive the cancelled runs and stop(), keeping the host alive`,
    );
  }
  assert.deepEqual(problems, []);
});

test('abort from a worker:failure listener (willRetry true): aborted, no further attempt, no dead letter', async (t) => {
  const orch = useOrchestrator(t);
  let calls = 0;
  orch.registerWorker(
    'w',
    () => {
      calls++;
      throw new Error('boom');
    },
    { executionMode: TRIGGERED, maxRetries: 3, retryDelayMs: 10 },
  );
  await orch.start();
  const ac = new AbortController();
  const failures: boolean[] = [];
  orch.on('worker:failure', (e) => {
    failures.push(e.willRetry);
    if (e.willRetry) ac.abort(new Error('give up'));
  });
  const error = runError(await settle(orch.run('w', null, { signal: ac.signal })));
  assert.equal(error.reason, 'aborted');
  assert.equal(error.attempts, 1);
  await sleep(150); // a retry would be due within 10-20 ms
  assert.equal(calls, 1, 'the run was attempted again after its cancellation');
  assert.deepEqual(failures, [true]);
  assert.deepEqual(orch.deadLetters.list(), []);
  assert.equal(orch.getStatus().workerStates.w?.failures, 0, 'an aborted run fed the breaker');
});

// 6. A payload that cannot be cloned fails its run once, as the worker's 'error', not as a crash.
test('an uncloneable payload fails with reason error after 1 attempt, no crash (thread and process, warm sandbox)', async (t) => {
  const orch = useOrchestrator(t);
  for (const isolation of ['thread', 'process'] as const) {
    registerIsolated(orch, isolation, fixture('echo.mjs'), isolation, { maxRetries: 3, retryDelayMs: 1 });
  }
  await orch.start();
  const starts: string[] = [];
  orch.on('worker:start', (e) => starts.push(e.name));
  for (const isolation of ['thread', 'process'] as const) {
    await orch.run(isolation, 'warm-up');
    starts.length = 0;
    const error = runError(await settle(orch.run(isolation, { cb: () => 1 })));
    assert.equal(error.reason, 'error', `${isolation}: ${error.message}`);
    assert.equal(error.attempts, 1, `${isolation}: retried`);
    assert.deepEqual(starts, [isolation], `${isolation}: attempts started`);
    const status = orch.getStatus().workerStates[isolation];
    assert.equal(status?.totals.crashes, 0, `${isolation}: counted as a crash`);
    assert.equal(status?.totals.retries, 0, `${isolation}: counted retries`);
    const after = (await orch.run(isolation, 2)) as { payload: unknown };
    assert.equal(after.payload, 2, `${isolation}: the next run works`);
  }
});

// 7. Heartbeats count only for the attempt that sent them.
test('heartbeats are per attempt: a stale heartbeat interval of an earlier attempt does not keep a silent one alive', async (t) => {
  const orch = useOrchestrator(t);
  for (const isolation of ['thread', 'process'] as const) {
    registerIsolated(orch, isolation, fixture('heartbeat-leaky.mjs'), isolation, {
      heartbeatTimeoutSeconds: 0.3,
      timeoutSeconds: 4,
      maxRetries: 0,
    });
  }
  await orch.start();
  for (const isolation of ['thread', 'process'] as const) {
    assert.equal(await orch.run(isolation, { leak: true }), 'left a heartbeat interval behind');
    const outcome = await settle(orch.run(isolation, {}));
    const error = runError(outcome);
    assert.equal(error.reason, 'stalled', `${isolation}: ${error.message}`);
    assert.ok(outcome.ms < 2500, `${isolation}: stalled only after ${Math.round(outcome.ms)} ms`);
  }
});

// 8. Times beyond what a Date or one Node timer can hold.
test('getStatus() does not throw for intervalSeconds 1e13', async (t) => {
  const orch = useOrchestrator(t);
  let calls = 0;
  orch.registerWorker('w', () => ++calls, { executionMode: SCHEDULED, intervalSeconds: 1e13 });
  await orch.start();
  await waitFor(() => calls === 1, 2000, 'the run at start');
  await waitFor(() => orch.getWorker('w')?.isRunning === false, 2000, 'the run to end');
  assert.doesNotThrow(() => orch.getStatus());
  const nextRunAt = orch.getStatus().workerStates.w?.nextRunAt;
  assert.ok(nextRunAt === undefined || !Number.isNaN(Date.parse(nextRunAt)), `nextRunAt ${nextRunAt}`);
});

test('a 30-day timeoutSeconds does not time out a 300 ms attempt', async (t) => {
  const orch = useOrchestrator(t);
  registerIsolated(orch, 'w', fixture('sleep.mjs'), 'thread', { timeoutSeconds: 30 * 86400, maxRetries: 0 });
  await orch.start();
  assert.deepEqual(await orch.run('w', { ms: 300 }), { slept: 300 });
  assert.equal(orch.getStatus().workerStates.w?.totals.timeouts, 0);
});

// 9. Registration while running: no recursive graph walk, no relinking of every worker.
test('registering 8,000 workers in a dependsOn chain while running: no RangeError, under 5 s', async (t) => {
  const orch = useOrchestrator(t);
  await orch.start();
  const n = 8000;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    orch.registerWorker(`w${i}`, () => 1, {
      executionMode: TRIGGERED,
      dependsOn: i === 0 ? [] : [`w${i - 1}`],
    });
  }
  const ms = performance.now() - started;
  assert.ok(ms < 5000, `registering took ${Math.round(ms)} ms`);
  assert.equal(orch.getStatus().workers, n);
  assert.deepEqual(orch.getWorker(`w${n - 1}`)?.dependsOn, [`w${n - 2}`]);
});
