import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Sampler } from '../../src/health/sampler.ts';
import type { ThreadProbe } from '../../src/isolation/sandbox.ts';

const thread = (heapUsed: number | undefined, utilization: number | undefined): ThreadProbe => ({
  kind: 'thread',
  heapUsed,
  utilization: () => utilization,
});

it('a thread is read as its event-loop utilisation ×100 and its reported heap', async () => {
  const probe = thread(12_000_000, 0.25);
  const readings = await new Sampler().read([probe]);
  assert.deepEqual(readings.get(probe), { cpuPercent: 25, memoryBytes: 12_000_000 });
});

it('a thread that has not reported its heap yet (still starting) gives no reading, not 0 bytes', async () => {
  const starting = thread(undefined, 0.99);
  const notCreated = thread(5, undefined);
  const readings = await new Sampler().read([starting, notCreated]);
  assert.equal(readings.size, 0);
});
