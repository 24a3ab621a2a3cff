import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { WorkerExecutionMode } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { orchestrator, startRedis } from './harness.ts';

const TRIGGERED = { executionMode: WorkerExecutionMode.TRIGGERED };

test('dependsOn across hosts: pipelines, freshness of scheduled runs, dependencies not running', async (t) => {
  const redis = await startRedis(t);
  const log: { name: string; host: string; start: number; end: number }[] = [];
  let fetchFails = false;
  const hosts = ['a', 'b'].map((hostId) => {
    const orch = orchestrator(t, {
      cluster: { redis: redis.url, hostId },
      maxConcurrentWorkers: 4,
      ...(process.env.DEBUG_CLUSTER ? { logger: pino({ level: 'warn' }) } : {}),
    });
    const record = (name: string, ms: number) => async () => {
      const start = Date.now();
      await sleep(ms);
      if (name === 'fetch' && fetchFails) throw new Error('fetch failed');
      log.push({ name, host: hostId, start, end: Date.now() });
    };
    orch.registerWorker('fetch', record('fetch', 300), { ...TRIGGERED, maxRetries: 0 });
    // A pipeline: runs each time fetch has succeeded since its last run.
    orch.registerWorker('process', record('process', 10), { ...TRIGGERED, dependsOn: ['fetch'] });
    // Scheduled, due at start, but waits for a fetch that succeeded since its last run.
    orch.registerWorker('report', record('report', 10), {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: 3600,
      dependsOn: ['fetch'],
    });
    return orch;
  });
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  caller.registerWorker('fetch', () => 0, { ...TRIGGERED, maxRetries: 0 });
  caller.registerWorker('process', () => 0, { ...TRIGGERED, dependsOn: ['fetch'] });
  await Promise.all([caller, ...hosts].map((o) => o.start()));
  await sleep(1000);
  assert.equal(log.length, 0, 'nothing ran before the dependency succeeded');

  // A requested run of process waits while fetch runs (on any host), without waiting for freshness.
  const fetching = caller.run('fetch');
  await sleep(50);
  await caller.run('process');
  await fetching;
  const firstFetch = log.find((r) => r.name === 'fetch');
  const requested = log.find((r) => r.name === 'process');
  assert.ok(firstFetch !== undefined && requested !== undefined);
  assert.ok(requested.start >= firstFetch.end, 'process did not start while fetch ran');

  // The fetch's success makes the scheduled report due, and (maybe) the pipeline.
  await waitFor(() => log.some((r) => r.name === 'report'), 5000, 'the parked scheduled run');
  const report = log.find((r) => r.name === 'report');
  assert.ok(report !== undefined && report.start >= (firstFetch?.end ?? 0));

  const processRuns = () => log.filter((r) => r.name === 'process').length;
  const before = processRuns();
  await caller.run('fetch');
  await waitFor(() => processRuns() >= before + 1, 5000, 'one pipeline run after the second fetch');
  await sleep(500);
  assert.equal(processRuns(), before + 1, 'exactly one pipeline run per success, cluster-wide');
  fetchFails = true;
  await caller.run('fetch').catch(() => undefined);
  await sleep(800);
  assert.equal(processRuns(), before + 1, 'no pipeline run after a failure');
});
