import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerExecutionMode } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { type Host, type HostEvent, orchestrator, startHost, startRedis } from './harness.ts';

test('a 1 s interval worker on 3 hosts for 30 s fires 30 ± 2 times, no due time run twice', async (t) => {
  const redis = await startRedis(t);
  const workers = { tick: { executionMode: 'scheduled', intervalSeconds: 1, inline: true } };
  const hosts: Host[] = await Promise.all(
    ['a', 'b', 'c'].map((hostId) => startHost(t, { redis: redis.url, hostId, workers })),
  );
  const starts = () => hosts.flatMap((h) => h.events).filter((e) => e.event === 'start');
  const first = await waitFor(() => starts()[0], 10_000, 'the first run');
  await sleep(first.at + 30_000 + 500 - Date.now());
  const within = starts().filter((e) => e.at < first.at + 30_000);
  assert.ok(Math.abs(within.length - 30) <= 2, `${within.length} runs in 30 s`);
  const ids = within.map((e) => e.runId);
  assert.equal(new Set(ids).size, ids.length, 'no due time ran twice');
  // Each run starts about intervalSeconds after the previous one ended.
  const ends = hosts.flatMap((h) => h.events).filter((e) => e.event === 'success');
  const sorted = [...within].sort((x, y) => x.at - y.at);
  for (let i = 1; i < sorted.length; i++) {
    const prevEnd = ends.find((e) => e.runId === sorted[i - 1]?.runId) as HostEvent;
    assert.ok(
      (sorted[i] as HostEvent).at - prevEnd.at >= 950,
      'due intervalSeconds after the previous run ended',
    );
  }
  const status = await (hosts[1] as Host).request<{ workerStates: Record<string, { nextRunAt?: string }> }>({
    cmd: 'status',
  });
  assert.ok(status.workerStates.tick?.nextRunAt !== undefined, 'nextRunAt from Redis');
});

test('cron times fire once each across hosts', async (t) => {
  const redis = await startRedis(t);
  const started: { host: string; at: number }[] = [];
  const orchs = ['a', 'b', 'c'].map((hostId) => {
    const orch = orchestrator(t, { cluster: { redis: redis.url, hostId } });
    orch.registerWorker('cron', () => started.push({ host: hostId, at: Date.now() }), {
      executionMode: WorkerExecutionMode.SCHEDULED,
      cron: '* * * * * *',
    });
    return orch;
  });
  await Promise.all(orchs.map((o) => o.start()));
  await sleep(4500);
  const seconds = started.map((s) => Math.floor(s.at / 1000));
  assert.ok(started.length >= 3, `${started.length} cron runs`);
  assert.equal(new Set(seconds).size, seconds.length, `one run per cron time: ${seconds.join(' ')}`);
});

test('a continuous worker runs `concurrency` loops cluster-wide', async (t) => {
  const redis = await startRedis(t);
  let running = 0;
  let most = 0;
  let runs = 0;
  const hostsUsed = new Set<string>();
  const orchs = ['a', 'b', 'c'].map((hostId) => {
    const orch = orchestrator(t, { cluster: { redis: redis.url, hostId } });
    orch.registerWorker(
      'loop',
      async () => {
        running++;
        runs++;
        hostsUsed.add(hostId);
        most = Math.max(most, running);
        await sleep(50);
        running--;
      },
      { executionMode: WorkerExecutionMode.CONTINUOUS, concurrency: 2 },
    );
    return orch;
  });
  await Promise.all(orchs.map((o) => o.start()));
  await waitFor(() => runs >= 30, 20_000, '30 loop runs');
  assert.equal(most, 2, 'two loops at once, never more');
  await Promise.all(orchs.map((o) => o.stop()));
  assert.ok(hostsUsed.size >= 1);
});

test('Redis remembers an interval: a restart of every host does not run it early', async (t) => {
  const redis = await startRedis(t);
  let runs = 0;
  const make = () => {
    const orch = orchestrator(t, { cluster: { redis: redis.url, hostId: 'only' } });
    orch.registerWorker('hourly', () => runs++, {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: 3600,
    });
    return orch;
  };
  const first = make();
  await first.start();
  await waitFor(() => runs === 1, 5000, 'the run at the first start');
  const nextRunAt = () => Date.parse(first.getStatus().workerStates.hourly?.nextRunAt ?? '0');
  // Due an hour after the run ended.
  await waitFor(() => nextRunAt() > Date.now() + 3500_000, 3000, 'nextRunAt an hour ahead');
  const next = nextRunAt();
  await first.stop();
  const second = make();
  await second.start();
  await sleep(1000);
  assert.equal(runs, 1, 'not run again at the restart');
  assert.equal(Date.parse(second.getStatus().workerStates.hourly?.nextRunAt as string), next);
});
