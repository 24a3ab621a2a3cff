import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunError, WorkerExecutionMode } from '../../src/index.ts';
import { pidAlive, waitFor } from '../helpers.ts';
import { defer, type HostEvent, orchestrator, startHost, startRedis } from './harness.ts';

test('2,000 runs over 3 hosts, one SIGKILLed mid-way: every run completes, duplicates only of runs in flight there, no orphan', async (t) => {
  const redis = await startRedis(t);
  const pidDir = mkdtempSync(join(tmpdir(), 'corral-cluster-pids-'));
  defer(t, async () => rmSync(pidDir, { recursive: true, force: true }));
  const workers = {
    job: { isolation: 'process', maxRetries: 3, retryDelayMs: 10, maxQueue: 5000, concurrency: 100 },
  };
  const config = { redis: redis.url, lockMs: 3000, maxConcurrentWorkers: 4, workers };
  const [a, b, c] = (await Promise.all(
    ['a', 'b', 'c'].map((hostId) => startHost(t, { ...config, hostId })),
  )) as [
    Awaited<ReturnType<typeof startHost>>,
    Awaited<ReturnType<typeof startHost>>,
    Awaited<ReturnType<typeof startHost>>,
  ];
  const results = a.request<{ ok: boolean; value?: { value: number }; error?: string }[]>({
    cmd: 'runMany',
    name: 'job',
    count: 2000,
    payload: { ms: 5, pidDir },
  });
  await waitFor(() => c.events.filter((e) => e.event === 'start').length >= 150, 60_000, 'host c busy');
  await c.kill();
  const outcomes = await results;
  assert.equal(outcomes.length, 2000);
  const failed = outcomes.filter((o) => !o.ok);
  assert.deepEqual(failed, [], 'every run succeeded');
  assert.deepEqual(
    outcomes.map((o) => o.value?.value),
    Array.from({ length: 2000 }, (_, i) => i),
  );

  const events: HostEvent[] = [...a.events, ...b.events, ...c.events];
  const starts = new Map<string, HostEvent[]>();
  for (const e of events) if (e.event === 'start') starts.set(e.runId, [...(starts.get(e.runId) ?? []), e]);
  assert.equal(starts.size, 2000);
  const crashed = new Set(
    events.filter((e) => e.event === 'failure' && e.reason === 'crash').map((e) => e.runId),
  );
  const twice = [...starts].filter(([, s]) => s.length > 1).map(([id]) => id);
  for (const id of twice) {
    assert.ok(crashed.has(id), `run ${id} ran twice without having been in flight on the dead host`);
  }
  // The runs in flight on the dead host ran again, each as a later attempt elsewhere.
  for (const id of crashed) {
    const s = starts.get(id) ?? [];
    assert.ok(
      s.some((e) => e.host !== 'c' && e.attempt >= 2),
      `run ${id} re-ran elsewhere`,
    );
  }
  assert.ok(
    c.events.some((e) => e.event === 'start'),
    'host c took runs',
  );
  assert.ok(
    b.events.some((e) => e.event === 'start'),
    'host b took runs',
  );

  await Promise.all([a.stop(), b.stop()]);
  const pids = readdirSync(pidDir).map(Number);
  assert.ok(pids.length >= 3);
  await waitFor(() => pids.every((pid) => !pidAlive(pid)), 15_000, 'no worker process left on any host');
});

test('a host killed mid-run: the run goes on elsewhere within lockMs + 5 s, its attempt counted as a crash', async (t) => {
  const redis = await startRedis(t);
  const lockMs = 2000;
  const workers = {
    slow: { isolation: 'process', maxRetries: 1, retryDelayMs: 10 },
    once: { maxRetries: 0 },
  };
  const doomed = await startHost(t, { redis: redis.url, hostId: 'doomed', lockMs, workers });
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false, lockMs } });
  caller.registerWorker('slow', () => 0, { executionMode: WorkerExecutionMode.TRIGGERED });
  caller.registerWorker('once', () => 0, { executionMode: WorkerExecutionMode.TRIGGERED });
  await caller.start();
  // First attempt on the doomed host: long enough to be in flight when it dies.
  const retried = caller.run('slow', { firstMs: 60_000, ms: 10 });
  const lost = caller.run('once', { ms: 60_000 }).catch((e: unknown) => e);
  await waitFor(() => doomed.events.filter((e) => e.event === 'start').length === 2, 20_000, 'both started');
  await doomed.kill();
  const killedAt = Date.now();
  const survivor = await startHost(t, { redis: redis.url, hostId: 'survivor', lockMs, workers });
  // `slow` retries once: its second attempt runs on the survivor.
  await waitFor(
    () => survivor.events.find((e) => e.event === 'start' && e.attempt === 2),
    lockMs + 5000 + 3000,
    'the run re-run on the survivor',
  );
  assert.ok(Date.now() - killedAt <= lockMs + 5000 + 3000);
  // Each attempt in flight on the dead host counts as a crash (each worker's queue is checked on its own).
  await waitFor(
    () => survivor.events.filter((e) => e.event === 'failure' && e.reason === 'crash').length === 2,
    lockMs + 5000 + 3000 - (Date.now() - killedAt),
    'both attempts counted as crashes',
  );
  // `once` had no retry left: it fails with reason crash, and is a dead letter.
  const error = await lost;
  assert.ok(error instanceof RunError);
  assert.equal(error.reason, 'crash');
  assert.equal(error.attempts, 1);
  await waitFor(() => caller.deadLetters.list('once').length === 1, 3000, 'dead letter mirrored');
  const value = (await retried) as { attempt: number };
  assert.equal(value.attempt, 2);
  await waitFor(
    () => caller.getStatus().workerStates.slow?.totals.crashes === 1,
    3000,
    'the crash in the totals',
  );
});
