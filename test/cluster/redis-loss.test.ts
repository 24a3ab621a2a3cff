import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerExecutionMode } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { orchestrator, startRedis } from './harness.ts';

test('Redis killed and restarted (empty) mid-load: nothing lost, attempts in flight finish', async (t) => {
  const redis = await startRedis(t);
  const lockMs = 3000;
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false, lockMs } });
  caller.registerWorker('job', () => 0, { executionMode: WorkerExecutionMode.TRIGGERED, maxQueue: 1000 });
  const ended: number[] = [];
  const started: number[] = [];
  const hosts = ['a', 'b'].map((hostId) => {
    const orch = orchestrator(t, { cluster: { redis: redis.url, hostId, lockMs }, maxConcurrentWorkers: 3 });
    orch.registerWorker(
      'job',
      async (ctx) => {
        started.push(Date.now());
        await sleep(40);
        ended.push(Date.now());
        return ctx.payload;
      },
      { executionMode: WorkerExecutionMode.TRIGGERED, maxQueue: 1000, concurrency: 10 },
    );
    return orch;
  });
  await caller.start();
  await Promise.all(hosts.map((o) => o.start()));
  const runs = Array.from({ length: 200 }, (_, i) => caller.run('job', i));
  await waitFor(() => ended.length >= 40, 30_000, '40 runs done');
  await redis.kill();
  const killedAt = Date.now();
  await sleep(1500);
  // Attempts in flight at the loss finished; only runs already taken could start meanwhile.
  const startedMeanwhile = started.filter((at) => at > killedAt + 100).length;
  assert.ok(startedMeanwhile <= 6, `${startedMeanwhile} runs started while Redis was down`);
  await redis.restart();
  const values = await Promise.all(runs);
  assert.deepEqual(
    values,
    Array.from({ length: 200 }, (_, i) => i),
  );
  // The cluster goes on: a new run after the loss.
  assert.equal(await caller.run('job', 'after'), 'after');
});
