import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { it } from 'node:test';
import { ProcStatReader } from '../../src/health/proc-stat.ts';
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

it('/proc/<pid>/stat: kept open while the pid is sampled, closed when it is not; a gone pid reads as nothing', {
  skip: existsSync('/proc/self/stat') ? false : 'no /proc here',
}, () => {
  const openStats = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${process.pid}/stat`;
      } catch {
        return false;
      }
    }).length;
  const reader = new ProcStatReader();
  const first = reader.read(process.pid);
  assert.ok(first !== undefined && first.memoryBytes > 0 && first.cpuPercent === 0);
  for (let i = 0; i < 1e6; i++) Math.sqrt(i);
  const second = reader.read(process.pid);
  assert.ok(second !== undefined && second.cpuPercent >= 0 && second.memoryBytes > 0);
  assert.equal(openStats(), 1, 'one descriptor for the sampled pid');
  reader.retain(new Set());
  assert.equal(openStats(), 0, 'closed once the pid is no longer sampled');
  const gone = spawnSync('true').pid as number;
  assert.equal(reader.read(gone), undefined);
  reader.clear();
});
