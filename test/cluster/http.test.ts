// The HTTP layer of a cluster host: /status carries the cluster, /metrics labels its series with this
// host, and /healthz answers 503 naming Redis while Redis is unreachable (README: Running on several
// machines).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerExecutionMode } from '../../src/index.ts';
import { openEvents, waitFor } from '../helpers.ts';
import { defer, orchestrator, startRedis } from './harness.ts';

test('a cluster host: /status shows the hosts, /metrics a host label, /healthz 503 naming Redis while it is lost', async (t) => {
  const redis = await startRedis(t);
  const orch = orchestrator(t, { cluster: { redis: redis.url, hostId: 'web-1', lockMs: 2000 } });
  orch.registerWorker('w', () => 'ok', { executionMode: WorkerExecutionMode.TRIGGERED });
  await orch.start();
  const server = await orch.listen({ port: 0 });
  defer(t, () => server.close());
  assert.equal(await orch.run('w'), 'ok');

  const status = (await (await fetch(new URL('status', server.url))).json()) as {
    cluster: { name: string; self: string; redis: string; hosts: { id: string }[] };
  };
  assert.equal(status.cluster.self, 'web-1');
  assert.equal(status.cluster.redis, 'ready');
  assert.deepEqual(
    status.cluster.hosts.map((h) => h.id),
    ['web-1'],
  );
  const metrics = await (await fetch(new URL('metrics', server.url))).text();
  assert.match(metrics, /corral_runs_total\{worker="w",outcome="succeeded",host="web-1"\} 1/);
  assert.equal((await fetch(new URL('healthz', server.url))).status, 200);

  await redis.kill();
  await waitFor(() => orch.getStatus().cluster?.redis === 'unreachable', 15_000);
  const down = await fetch(new URL('healthz', server.url));
  assert.equal(down.status, 503);
  const body = (await down.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'ERR_REDIS_UNREACHABLE');
  assert.match(body.error.message, /Redis/);

  await redis.restart();
  await waitFor(() => orch.getStatus().cluster?.redis === 'ready', 15_000);
  await waitFor(async () => (await fetch(new URL('healthz', server.url))).status === 200, 15_000);
});

test('stop() while Redis is unreachable ends within a few seconds', async (t) => {
  const redis = await startRedis(t);
  const orch = orchestrator(t, { cluster: { redis: redis.url, lockMs: 2000 } });
  orch.registerWorker('w', () => 'ok', { executionMode: WorkerExecutionMode.TRIGGERED });
  await orch.start();
  assert.equal(await orch.run('w'), 'ok');
  await redis.kill();
  await waitFor(() => orch.getStatus().cluster?.redis === 'unreachable', 15_000);
  const t0 = Date.now();
  await orch.stop();
  assert.ok(Date.now() - t0 < 20_000, `stop() took ${Date.now() - t0} ms`);
  assert.equal(orch.getStatus().state, 'stopped');
});

test("/events on any host streams every host's worker events, each with its host", async (t) => {
  const redis = await startRedis(t);
  const runner = orchestrator(t, { cluster: { redis: redis.url, hostId: 'runner' } });
  const front = orchestrator(t, { cluster: { redis: redis.url, hostId: 'front', execute: false } });
  runner.registerWorker('w', (ctx) => ctx.payload, { executionMode: WorkerExecutionMode.TRIGGERED });
  front.registerWorker('w', (ctx) => ctx.payload, { executionMode: WorkerExecutionMode.TRIGGERED });
  await runner.start();
  await front.start();
  const server = await front.listen({ port: 0 });
  defer(t, () => server.close());
  const stream = await openEvents(server.url);
  defer(t, () => stream.abort());

  // The runner relays once it has seen (in the hosts' heartbeats) that the front has a client: runs
  // are sent until one of them is seen, then every later one is.
  let n = 0;
  await waitFor(
    async () => {
      await front.run('w', ++n);
      return stream.frames.some((f) => f.event === 'worker:success');
    },
    15_000,
    "the runner's events on the front's stream",
  );
  const payload = 1000 + n;
  assert.equal(await front.run('w', payload), payload);
  const start = await stream.next('worker:start', (d) => d.host === 'runner', 5000);
  assert.equal(start.name, 'w');
  const success = await stream.next('worker:success', (d) => d.result === payload, 5000);
  assert.equal(success.host, 'runner');
  assert.equal(success.name, 'w');

  // The serving host's own events carry its id too; the breaker's events are every host's own (each
  // emits them when it sees the change): the runner's are not relayed, so there are no duplicates.
  runner.disableWorker('w');
  await waitFor(
    () => front.getStatus().workerStates.w?.enabled === false,
    5000,
    'disabled seen by the front',
  );
  runner.enableWorker('w');
  await stream.next('worker:enabled', (d) => d.host === 'front', 5000);
  await sleep(1000);
  const enabled = stream.frames.filter((f) => f.event === 'worker:enabled');
  assert.deepEqual(
    enabled.map((f) => JSON.parse(f.data as string).host),
    ['front'],
  );
});
