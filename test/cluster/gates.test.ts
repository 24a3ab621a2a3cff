import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ClusterBreakers } from '../../src/cluster/breakers.ts';
import { ClusterKeys } from '../../src/cluster/keys.ts';
import { OrchestratorError, WorkerExecutionMode } from '../../src/index.ts';
import { resolveWorker } from '../../src/options.ts';
import { WorkerRecord } from '../../src/worker-record.ts';
import { waitFor } from '../helpers.ts';
import { orchestrator, startRedis } from './harness.ts';

const TRIGGERED = { executionMode: WorkerExecutionMode.TRIGGERED };

test('blocks never overlaps across hosts', async (t) => {
  const redis = await startRedis(t);
  const spans: { name: string; host: string; start: number; end: number }[] = [];
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  const hosts = ['a', 'b', 'c'].map((hostId) =>
    orchestrator(t, { cluster: { redis: redis.url, hostId }, maxConcurrentWorkers: 4 }),
  );
  for (const [i, orch] of [caller, ...hosts].entries()) {
    const host = i === 0 ? 'caller' : String(i);
    for (const name of ['export', 'vacuum']) {
      orch.registerWorker(
        name,
        async () => {
          const start = performance.now();
          await sleep(15);
          spans.push({ name, host, start, end: performance.now() });
        },
        { ...TRIGGERED, concurrency: 4, blocks: name === 'export' ? ['vacuum'] : [] },
      );
    }
  }
  await Promise.all([caller, ...hosts].map((o) => o.start()));
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < 25; i++) runs.push(caller.run('export', i), caller.run('vacuum', i));
  await Promise.all(runs);
  assert.equal(spans.length, 50);
  const exports = spans.filter((s) => s.name === 'export');
  const vacuums = spans.filter((s) => s.name === 'vacuum');
  for (const e of exports) {
    for (const v of vacuums) {
      assert.ok(e.end <= v.start || v.end <= e.start, `export on ${e.host} overlapped vacuum on ${v.host}`);
    }
  }
  assert.ok(new Set(spans.map((s) => s.host)).size >= 2, 'the runs went to several hosts');
});

test('the breaker opened by failures on one host stops every host; one trial cluster-wide closes it', async (t) => {
  const redis = await startRedis(t);
  let failing = true;
  const starts: { host: string; at: number; end?: number }[] = [];
  const options = {
    ...TRIGGERED,
    maxRetries: 0,
    maxConsecutiveFailures: 3,
    breakerCooldownSeconds: 2,
    concurrency: 4,
  };
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  caller.registerWorker('flaky', () => 0, options);
  const hosts = ['a', 'b'].map((hostId) => {
    const orch = orchestrator(t, { cluster: { redis: redis.url, hostId } });
    orch.registerWorker(
      'flaky',
      async () => {
        const entry: { host: string; at: number; end?: number } = { host: hostId, at: Date.now() };
        starts.push(entry);
        await sleep(failing ? 1 : 300);
        entry.end = Date.now();
        if (failing) throw new Error('down');
        return hostId;
      },
      options,
    );
    return orch;
  });
  await caller.start();
  await Promise.all(hosts.map((o) => o.start()));
  for (let i = 0; i < 3; i++) await caller.run('flaky').catch(() => undefined);
  const openedAt = Date.now();
  for (const orch of [caller, ...hosts]) {
    await waitFor(() => orch.getStatus().workerStates.flaky?.breaker === 'open', 1500, 'open everywhere');
  }
  assert.ok(Date.now() - openedAt <= 1500);
  for (const orch of [caller, ...hosts]) {
    await assert.rejects(
      orch.run('flaky'),
      (e: unknown) => e instanceof OrchestratorError && e.code === 'ERR_WORKER_DISABLED',
    );
  }
  const before = starts.length;
  failing = false;
  await waitFor(
    () => caller.getStatus().workerStates.flaky?.breaker === 'half-open',
    5000,
    'half-open after the cooldown',
  );
  const runs = [1, 2, 3, 4].map(() => caller.run('flaky'));
  assert.equal((await Promise.all(runs)).length, 4);
  const after = starts.slice(before);
  assert.equal(after.length, 4);
  const [trial, ...rest] = after.sort((x, y) => x.at - y.at);
  for (const run of rest) assert.ok(run.at >= (trial?.end ?? 0), 'no run started before the trial ended');
  for (const orch of [caller, ...hosts]) {
    await waitFor(() => orch.getStatus().workerStates.flaky?.breaker === 'closed', 1500, 'closed everywhere');
  }
});

test('disableWorker on one host disables it everywhere; enableWorker re-enables it', async (t) => {
  const redis = await startRedis(t);
  const a = orchestrator(t, { cluster: { redis: redis.url, hostId: 'a' } });
  const b = orchestrator(t, { cluster: { redis: redis.url, hostId: 'b' } });
  for (const orch of [a, b]) orch.registerWorker('w', () => 'ok', TRIGGERED);
  await a.start();
  await b.start();
  a.disableWorker('w');
  await waitFor(() => b.getStatus().workerStates.w?.enabled === false, 1500, 'disabled on b');
  assert.equal(await b.triggerWorker('w'), false);
  b.enableWorker('w');
  await waitFor(() => a.getStatus().workerStates.w?.enabled === true, 1500, 'enabled on a');
  assert.equal(await a.run('w'), 'ok');
});

test('enabling a worker while a breaker read is in flight: no flip back, worker:enabled once', async (t) => {
  const server = await startRedis(t);
  const redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
  t.after(() => redis.disconnect());
  const { source, options } = resolveWorker('w', () => 1, TRIGGERED);
  const worker = new WorkerRecord('w', source, options);
  const events: string[] = [];
  const breakers = new ClusterBreakers({
    redis,
    keys: new ClusterKeys('gates'),
    log: pino({ enabled: false }),
    emit: (event) => events.push(event),
    hostId: 'h',
    lockMs: 30_000,
    wake: () => undefined,
  });
  // Disabled by hand (as disableWorker() does: here first, then in Redis).
  worker.manuallyEnabled = false;
  await breakers.setEnabled(worker, false);
  await breakers.refresh([worker]);
  assert.equal(worker.enabled, false);

  // A refresh reads the breaker (disabled) just before this host enables the worker; enableWorker()
  // updates the record here and tells worker:enabled itself, then writes Redis.
  const staleRead = breakers.refresh([worker]);
  worker.manuallyEnabled = true;
  const write = breakers.setEnabled(worker, true);
  await Promise.all([staleRead, write]);
  assert.equal(worker.enabled, true, 'the read from before the write does not disable it again');
  await breakers.refresh([worker]);
  assert.equal(worker.enabled, true);
  assert.deepEqual(events, [], 'the enabling host has told worker:enabled already');
});
