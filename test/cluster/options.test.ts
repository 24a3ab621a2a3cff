// Cluster-wide options come from the latest registration to start; the other hosts take them within a
// mirror refresh (README: Running on several machines, "Options across hosts").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { JobPriority, OrchestratorError, WorkerExecutionMode } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { orchestrator, startRedis } from './harness.ts';

const TRIGGERED = { executionMode: WorkerExecutionMode.TRIGGERED };

test('the latest registration to start sets the cluster-wide options on every host', async (t) => {
  const redis = await startRedis(t);
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  const first = orchestrator(t, { cluster: { redis: redis.url, hostId: 'first', execute: false } });
  first.registerWorker('w', () => 'ok', { ...TRIGGERED, maxQueue: 100, maxRetries: 0, timeoutSeconds: 7 });
  first.registerWorker('other', () => 'ok', TRIGGERED);
  await first.start();

  const latest = orchestrator(t, {
    cluster: { redis: redis.url, hostId: 'latest', execute: false },
    logger,
  });
  latest.registerWorker('w', () => 'ok', {
    ...TRIGGERED,
    maxQueue: 1,
    maxRetries: 2,
    priority: JobPriority.HIGH,
    blocks: ['other'],
    timeoutSeconds: 9,
  });
  latest.registerWorker('other', () => 'ok', TRIGGERED);
  await latest.start();
  assert.ok(
    warnings.some((m) => /other cluster-wide options than before: .*maxQueue/.test(m)),
    `a warning naming the options, got ${JSON.stringify(warnings)}`,
  );

  // The first host takes them (its own execution options stay: timeoutSeconds).
  await waitFor(() => first.getWorker('w')?.maxQueue === 1, 5000, 'maxQueue taken by the first host');
  const w = first.getWorker('w');
  assert.equal(w?.maxRetries, 2);
  assert.equal(w?.priority, JobPriority.HIGH);
  assert.deepEqual(w?.blocks, ['other']);
  assert.equal(w?.timeoutSeconds, 7);

  // And acts on them: one run may wait in the cluster, so a second one from the first host is refused.
  const queued = first.run('w', 1);
  queued.catch(() => undefined);
  await waitFor(() => first.getStatus().workerStates.w?.queued === 1, 5000, 'one run waiting');
  await assert.rejects(
    first.run('w', 2),
    (e: unknown) => e instanceof OrchestratorError && e.code === 'ERR_QUEUE_FULL',
  );
});
