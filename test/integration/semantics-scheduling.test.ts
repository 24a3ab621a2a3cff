// Scheduling semantics (README: Semantics): the original usage example, SCHEDULED intervals (fixed delay),
// cron, CONTINUOUS and TRIGGERED workers. Inline function workers only: fast and deterministic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobPriority, WorkerExecutionMode, WorkerOrchestrator } from '../../src/index.ts';
import { isCode, useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED, CONTINUOUS } = WorkerExecutionMode;

test('the original usage example runs as written: process runs only after a fresh fetch, never during one', async (t) => {
  const orch = useOrchestrator(t, { maxConcurrentWorkers: 4 });
  const events: { what: 'fetch:start' | 'fetch:end' | 'process:start'; seq: number }[] = [];
  let seq = 0;
  let fetchRunning = false;
  let processDuringFetch = 0;
  let processRuns = 0;

  orch.registerWorker(
    'fetch',
    async () => {
      fetchRunning = true;
      events.push({ what: 'fetch:start', seq: ++seq });
      await sleep(40);
      events.push({ what: 'fetch:end', seq: ++seq });
      fetchRunning = false;
      return { items: 3 };
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.2, priority: JobPriority.HIGH },
  );
  orch.registerWorker(
    'process',
    async () => {
      if (fetchRunning) processDuringFetch++;
      events.push({ what: 'process:start', seq: ++seq });
      processRuns++;
      await sleep(10);
    },
    {
      executionMode: SCHEDULED,
      intervalSeconds: 0.05,
      dependsOn: ['fetch'],
      priority: JobPriority.NORMAL,
    },
  );

  await orch.start();
  assert.equal(orch.getStatus().state, 'running');
  await waitFor(() => processRuns >= 3, 8000, 'three process runs');
  await orch.stop();

  assert.equal(processDuringFetch, 0, 'process ran while fetch was running');
  // Between two process starts (and before the first) a fetch must have ended (succeeded).
  let fetchEndedSinceLastProcess = false;
  for (const event of events) {
    if (event.what === 'fetch:end') fetchEndedSinceLastProcess = true;
    if (event.what === 'process:start') {
      assert.ok(
        fetchEndedSinceLastProcess,
        `process started without a fresh fetch: ${JSON.stringify(events)}`,
      );
      fetchEndedSinceLastProcess = false;
    }
  }
  const fetchRuns = events.filter((e) => e.what === 'fetch:start').length;
  assert.ok(processRuns <= fetchRuns, `process ran ${processRuns} times for ${fetchRuns} fetches`);
  const status = orch.getStatus();
  assert.equal(status.state, 'stopped');
  assert.equal(status.workerStates.fetch?.totals.failed, 0);
  assert.equal(status.workerStates.process?.totals.failed, 0);
});

test('SCHEDULED interval: runs at start, then intervalSeconds after the previous run ENDED (fixed delay)', async (t) => {
  const orch = useOrchestrator(t);
  const starts: number[] = [];
  const ends: number[] = [];
  orch.registerWorker(
    'slow',
    async () => {
      starts.push(Date.now());
      await sleep(150);
      ends.push(Date.now());
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.1 },
  );
  const startedAt = Date.now();
  await orch.start();
  await waitFor(() => starts.length >= 1, 2000, 'the first run');
  assert.ok((starts[0] as number) - startedAt < 1000, 'the first run starts at start()');
  await waitFor(() => starts.length >= 4, 8000, 'four runs');
  await orch.stop();
  for (let i = 1; i < starts.length; i++) {
    const start = starts[i] as number;
    const prevStart = starts[i - 1] as number;
    const prevEnd = ends[i - 1] as number;
    // Timers may fire a millisecond early relative to Date.now(); allow 5 ms of rounding.
    assert.ok(start - prevEnd >= 95, `run ${i} started ${start - prevEnd} ms after the previous ended`);
    assert.ok(
      start - prevStart >= 245,
      `run ${i} started ${start - prevStart} ms after the previous started`,
    );
  }
});

test('SCHEDULED interval: nextRunAt appears in getStatus while waiting for the due time', async (t) => {
  const orch = useOrchestrator(t);
  const ends: number[] = [];
  orch.registerWorker(
    'tick',
    () => {
      ends.push(Date.now());
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.3 },
  );
  await orch.start();
  await waitFor(
    () => ends.length >= 1 && orch.getStatus().workerStates.tick?.nextRunAt !== undefined,
    3000,
    'nextRunAt after the first run',
  );
  const status = orch.getStatus().workerStates.tick;
  assert.ok(status !== undefined);
  const next = Date.parse(status.nextRunAt as string);
  assert.ok(Number.isFinite(next), `nextRunAt is an ISO timestamp: ${status.nextRunAt}`);
  const end = ends[0] as number;
  assert.ok(next - end >= 280 && next - end <= 1300, `nextRunAt is ${next - end} ms after the run ended`);
  assert.equal(typeof status.lastRun, 'string');
  assert.equal(typeof status.lastSuccess, 'string');
});

test('SCHEDULED: a disabled worker does not run; enableWorker resumes it; disableWorker stops it again', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  orch.registerWorker(
    'job',
    () => {
      count++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05 },
  );
  orch.disableWorker('job');
  await orch.start();
  await sleep(300);
  assert.equal(count, 0, 'a disabled worker ran');
  assert.equal(orch.getStatus().workerStates.job?.enabled, false);
  assert.equal(orch.getWorker('job')?.isEnabled, false);

  orch.enableWorker('job');
  assert.equal(orch.getStatus().workerStates.job?.enabled, true);
  await waitFor(() => count >= 2, 3000, 'runs after enableWorker');

  orch.disableWorker('job');
  await waitFor(() => orch.getStatus().workerStates.job?.running === false, 2000, 'the last run to end');
  const frozen = count;
  await sleep(300);
  assert.equal(count, frozen, 'the worker kept running after disableWorker');
});

test('cron: a 6-field pattern runs about once per second', async (t) => {
  const orch = useOrchestrator(t);
  const starts: number[] = [];
  orch.registerWorker(
    'everySecond',
    () => {
      starts.push(Date.now());
    },
    { executionMode: SCHEDULED, cron: '* * * * * *' },
  );
  await orch.start();
  await waitFor(() => starts.length >= 2, 3500, 'two cron runs');
  const first = starts[0] as number;
  const second = starts[1] as number;
  assert.ok(second - first >= 500, `cron runs ${second - first} ms apart`);
  await sleep(400);
  // Not continuous: at most about one run per second.
  assert.ok(starts.length <= 4, `${starts.length} runs in a few seconds`);
});

test('cron: runs only on its cron times (not at start); nextRunAt shows the next time', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  orch.registerWorker(
    'newYear',
    () => {
      count++;
    },
    { executionMode: SCHEDULED, cron: '0 0 1 1 *' },
  );
  await orch.start();
  await sleep(300);
  assert.equal(count, 0, 'a cron worker ran at start()');
  const next = orch.getStatus().workerStates.newYear?.nextRunAt;
  assert.equal(typeof next, 'string');
  assert.ok(Date.parse(next as string) > Date.now(), `nextRunAt ${next} is in the future`);
});

test('cron: an invalid pattern or 7 fields is refused with ERR_INVALID_OPTION', () => {
  const orch = new WorkerOrchestrator({ logger: false });
  const fn = () => undefined;
  for (const cron of ['not a cron', '* * * * * * *', '61 * * * *', '* *']) {
    assert.throws(
      () => orch.registerWorker(`c${cron}`, fn, { executionMode: SCHEDULED, cron }),
      isCode('ERR_INVALID_OPTION'),
      `cron ${JSON.stringify(cron)}`,
    );
  }
  assert.throws(
    () => orch.registerWorker('both', fn, { cron: '* * * * *', intervalSeconds: 5 }),
    isCode('ERR_INVALID_OPTION'),
  );
  assert.throws(
    () => orch.registerWorker('trig', fn, { executionMode: TRIGGERED, cron: '* * * * *' }),
    isCode('ERR_INVALID_OPTION'),
  );
  assert.equal(orch.getStatus().workers, 0);
});

test('CONTINUOUS: runs again as soon as a run ends, without overlapping itself', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  orch.registerWorker(
    'loop',
    async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      count++;
      await sleep(5);
      inFlight--;
    },
    { executionMode: CONTINUOUS },
  );
  await orch.start();
  await waitFor(() => count >= 20, 3000, 'twenty continuous runs');
  assert.equal(maxInFlight, 1);
});

test('CONTINUOUS: after failures it backs off instead of spinning', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  orch.registerWorker(
    'failing',
    () => {
      count++;
      throw new Error('always fails');
    },
    { executionMode: CONTINUOUS, retryDelayMs: 200, maxRetries: 0, maxConsecutiveFailures: 1000 },
  );
  await orch.start();
  await sleep(1000);
  const seen = count;
  assert.ok(seen >= 1, 'the continuous worker never ran');
  assert.ok(seen <= 15, `a failing continuous worker ran ${seen} times in 1 s`);
  const status = orch.getStatus().workerStates.failing;
  assert.equal(status?.lastFailureReason, 'error');
  assert.equal(orch.deadLetters.list().length, 0, 'continuous failures are not dead letters');
});

test('CONTINUOUS: its breaker opens at maxConsecutiveFailures', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  const disabled: { name: string; consecutiveFailures: number }[] = [];
  orch.on('worker:disabled', (e) => disabled.push(e));
  orch.registerWorker(
    'failing',
    () => {
      count++;
      throw new Error('always fails');
    },
    { executionMode: CONTINUOUS, retryDelayMs: 10, maxRetries: 0, maxConsecutiveFailures: 3 },
  );
  await orch.start();
  await waitFor(() => disabled.length >= 1, 5000, 'the breaker to open');
  assert.deepEqual(disabled, [{ name: 'failing', consecutiveFailures: 3 }]);
  const status = orch.getStatus().workerStates.failing;
  assert.equal(status?.breaker, 'open');
  assert.equal(status?.enabled, false);
  assert.equal(status?.failures, 3);
  await sleep(300);
  assert.equal(count, 3, 'an open breaker let the worker run again');
});

test('TRIGGERED: never runs on its own; triggerWorker resolves true after the run ended', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  let ended = false;
  let seenPayload: unknown;
  orch.registerWorker(
    'onDemand',
    async (ctx) => {
      count++;
      seenPayload = ctx.payload;
      await sleep(50);
      ended = true;
    },
    { executionMode: TRIGGERED },
  );
  let failingRuns = 0;
  orch.registerWorker(
    'failing',
    () => {
      failingRuns++;
      throw new Error('nope');
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  assert.equal(await orch.triggerWorker('onDemand'), false, 'trigger before start()');
  await orch.start();
  await sleep(300);
  assert.equal(count, 0, 'a TRIGGERED worker ran on its own');

  const result = await orch.triggerWorker('onDemand', { id: 7 });
  assert.equal(result, true);
  assert.equal(ended, true, 'triggerWorker resolved before the run ended');
  assert.deepEqual(seenPayload, { id: 7 });
  assert.equal(count, 1);

  assert.equal(await orch.triggerWorker('failing'), true, 'a failed run still resolves true');
  assert.equal(failingRuns, 1);

  assert.equal(await orch.triggerWorker('unknown'), false);
  orch.disableWorker('onDemand');
  assert.equal(await orch.triggerWorker('onDemand'), false);
  orch.enableWorker('onDemand');
  assert.equal(await orch.triggerWorker('onDemand'), true);
  await orch.stop();
  assert.equal(await orch.triggerWorker('onDemand'), false, 'trigger after stop()');
  assert.equal(count, 2);
});
