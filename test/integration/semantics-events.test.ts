// Events (README: Events) and introspection: getWorker (resolved config + runtime state), ctx.config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  JobPriority,
  type OrchestratorEvents,
  type WorkerConfig,
  WorkerExecutionMode,
} from '../../src/index.ts';
import { useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED } = WorkerExecutionMode;

test('events: a listener that throws does not break the orchestrator', async (t) => {
  const orch = useOrchestrator(t);
  const seen: string[] = [];
  const boom = () => {
    throw new Error('listener bug');
  };
  orch.on('orchestrator:started', boom);
  orch.on('worker:start', boom);
  orch.on('worker:success', boom);
  orch.on('worker:failure', boom);
  orch.on('worker:dead-letter', boom);
  orch.on('worker:start', (e) => seen.push(`start:${e.name}`));
  orch.on('worker:success', (e) => seen.push(`success:${e.name}`));
  orch.on('orchestrator:stopped', boom);
  let scheduled = 0;
  orch.registerWorker('ok', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  orch.registerWorker(
    'bad',
    () => {
      throw new Error('fails');
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  orch.registerWorker(
    'tick',
    () => {
      scheduled++;
    },
    { executionMode: SCHEDULED, intervalSeconds: 0.05 },
  );
  await orch.start();
  assert.equal(await orch.run('ok', 5), 5);
  await assert.rejects(orch.run('bad'));
  assert.equal(orch.deadLetters.list('bad').length, 1);
  await waitFor(() => scheduled >= 3, 3000, 'the schedule to keep going');
  assert.ok(seen.includes('start:ok') && seen.includes('success:ok'), 'the next listener was skipped');
  const report = await orch.stop();
  assert.equal(report.dropped, 0);
  assert.equal(orch.getStatus().state, 'stopped');
});

test('events: worker:start / worker:success / worker:failure payloads', async (t) => {
  const orch = useOrchestrator(t);
  const starts: OrchestratorEvents['worker:start'][] = [];
  const successes: OrchestratorEvents['worker:success'][] = [];
  const failures: OrchestratorEvents['worker:failure'][] = [];
  orch.on('worker:start', (e) => starts.push(e));
  orch.on('worker:success', (e) => successes.push(e));
  orch.on('worker:failure', (e) => failures.push(e));
  orch.registerWorker(
    'job',
    async (ctx) => {
      await sleep(30);
      return { doubled: (ctx.payload as number) * 2 };
    },
    { executionMode: TRIGGERED },
  );
  orch.registerWorker(
    'bad',
    () => {
      throw Object.assign(new Error('bad input'), { code: 'E_BAD' });
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  await orch.start();
  await orch.run('job', 21);
  assert.equal(starts.length, 1);
  const start = starts[0] as OrchestratorEvents['worker:start'];
  assert.equal(start.name, 'job');
  assert.equal(typeof start.runId, 'string');
  assert.ok(start.runId.length > 0);
  assert.equal(start.attempt, 1);
  assert.equal(successes.length, 1);
  const success = successes[0] as OrchestratorEvents['worker:success'];
  assert.equal(success.name, 'job');
  assert.equal(success.runId, start.runId);
  assert.equal(success.attempt, 1);
  assert.equal(typeof success.durationMs, 'number');
  assert.ok(success.durationMs >= 20 && success.durationMs < 5000, `durationMs ${success.durationMs}`);
  assert.deepEqual(success.result, { doubled: 42 });

  await assert.rejects(orch.run('bad'));
  assert.equal(failures.length, 1);
  const failure = failures[0] as OrchestratorEvents['worker:failure'];
  assert.equal(failure.name, 'bad');
  assert.equal(failure.attempt, 1);
  assert.equal(failure.reason, 'error');
  assert.equal(failure.willRetry, false);
  assert.ok(failure.error instanceof Error);
  assert.equal((failure.error as Error & { code?: unknown }).code, 'E_BAD');
  assert.equal(failure.runId, starts.at(-1)?.runId);
  assert.notEqual(failure.runId, start.runId);
});

test('events: off() removes a listener', async (t) => {
  const orch = useOrchestrator(t);
  let count = 0;
  const listener = () => {
    count++;
  };
  orch.registerWorker('w', () => undefined, { executionMode: TRIGGERED });
  orch.on('worker:success', listener);
  await orch.start();
  await orch.run('w');
  orch.off('worker:success', listener);
  await orch.run('w');
  assert.equal(count, 1);
});

test('getWorker: resolved defaults and runtime state; undefined for an unknown name', async (t) => {
  const orch = useOrchestrator(t);
  const hold: { release: () => void } = { release: () => undefined };
  orch.registerWorker('plain', async () => {
    await new Promise<void>((resolve) => {
      hold.release = resolve;
    });
    return 'ok';
  });
  orch.registerWorker(
    'broken',
    () => {
      throw new Error('broken');
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  orch.registerWorker('proc', new URL('../fixtures/echo.mjs', import.meta.url), { isolation: 'process' });
  orch.registerWorker('thr', new URL('../fixtures/echo.mjs', import.meta.url));
  assert.equal(orch.getWorker('nope'), undefined);

  const config = orch.getWorker('plain') as WorkerConfig;
  assert.ok(Object.isFrozen(config), 'getWorker returns a frozen snapshot');
  const expected: Partial<WorkerConfig> = {
    name: 'plain',
    executionMode: SCHEDULED,
    intervalSeconds: 300,
    cron: undefined,
    timeoutSeconds: 60,
    maxRetries: 3,
    retryDelayMs: 1000,
    priority: JobPriority.NORMAL,
    maxConsecutiveFailures: 5,
    breakerCooldownSeconds: null,
    isolation: 'inline',
    modulePath: undefined,
    concurrency: 1,
    maxQueue: 1000,
    memoryLimitMb: undefined,
    heartbeatTimeoutSeconds: undefined,
    isEnabled: true,
    isRunning: false,
    consecutiveFailures: 0,
  };
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(config[key as keyof WorkerConfig], value, key);
  }
  assert.deepEqual([...config.dependsOn], []);
  assert.deepEqual([...config.blocks], []);
  assert.equal(config.lastRun, undefined);
  assert.equal(config.lastSuccess, undefined);
  assert.equal(config.lastError, undefined);

  const proc = orch.getWorker('proc') as WorkerConfig;
  assert.equal(proc.isolation, 'process');
  assert.equal(proc.killGraceMs, 5000);
  assert.equal(proc.idleTimeoutSeconds, 30);
  assert.equal(proc.recycleAfterRuns, undefined);
  assert.ok(proc.modulePath?.endsWith('/test/fixtures/echo.mjs'));
  const thr = orch.getWorker('thr') as WorkerConfig;
  assert.equal(thr.isolation, 'thread');
  assert.equal(thr.idleTimeoutSeconds, 30);

  // Runtime state: 'plain' is SCHEDULED with a 300 s interval, so it runs once at start().
  orch.disableWorker('proc');
  orch.disableWorker('thr');
  await orch.start();
  await waitFor(() => orch.getWorker('plain')?.isRunning === true, 2000, 'the first run');
  const running = orch.getWorker('plain') as WorkerConfig;
  assert.ok(running.lastRun instanceof Date);
  assert.equal(running.lastSuccess, undefined);
  hold.release();
  await waitFor(() => orch.getWorker('plain')?.isRunning === false, 2000, 'the run to end');
  const done = orch.getWorker('plain') as WorkerConfig;
  assert.ok(done.lastSuccess instanceof Date);
  assert.equal(done.lastError, undefined);
  assert.equal(orch.getWorker('proc')?.isEnabled, false);

  await assert.rejects(orch.run('broken'));
  const broken = orch.getWorker('broken') as WorkerConfig;
  assert.equal(typeof broken.lastError, 'string');
  assert.equal(broken.consecutiveFailures, 1);
  assert.ok(broken.lastRun instanceof Date);
  assert.equal(broken.lastSuccess, undefined);
});

test('ctx.config is a snapshot of the worker configuration', async (t) => {
  const orch = useOrchestrator(t);
  let seen: Readonly<WorkerConfig> | undefined;
  orch.registerWorker(
    'cfg',
    (ctx) => {
      seen = ctx.config;
      return ctx.name;
    },
    { executionMode: TRIGGERED, priority: JobPriority.HIGH, maxRetries: 1, timeoutSeconds: 5 },
  );
  await orch.start();
  assert.equal(await orch.run('cfg'), 'cfg');
  assert.ok(seen !== undefined);
  assert.equal(seen.name, 'cfg');
  assert.equal(seen.priority, JobPriority.HIGH);
  assert.equal(seen.maxRetries, 1);
  assert.equal(seen.timeoutSeconds, 5);
  assert.equal(seen.executionMode, TRIGGERED);
  assert.equal(seen.isRunning, true);
});
