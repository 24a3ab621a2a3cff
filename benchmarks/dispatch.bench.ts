// Dispatch: what corral adds to one run, next to the raw mechanism it is built on. Triggered runs of a
// no-op job and of a ~1 ms CPU job, 2 threads / 2 children, 64 runs in flight, interleaved rounds:
// corral thread vs raw piscina; corral process vs a raw fork pool (same IPC serialization);
// corral inline vs a plain async call. Runs/s, p50/p99 latency per run, host CPU per run. The no-op
// job also gets the limit row of process dispatch: a bare echo pool (2 forked children that send each
// message straight back, same serialization, one message in flight per child, a FIFO in the parent,
// the payload sent as is): what any fork pool pays for the IPC round trip alone.
import { fileURLToPath } from 'node:url';
import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { Piscina } from 'piscina';
import { RawForkPool } from './lib/raw-fork-pool.ts';
import { fmt, header, save, table } from './lib/report.ts';
import { drive, interleave, type Variant } from './lib/rounds.ts';
import { Latency } from './lib/stats.ts';

const IN_FLIGHT = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const jobs = {
  noop: { file: fileURLToPath(new URL('./fixtures/noop.mjs', import.meta.url)), payload: 1 },
  cpu1ms: { file: fileURLToPath(new URL('./fixtures/spin.mjs', import.meta.url)), payload: { ms: 1 } },
} as const;
type Job = keyof typeof jobs;

type Measure = { runsPerSec: number; p50us: number; p99us: number; cpuUsPerRun: number };

/** A round: `total` calls of `call`, 64 in flight, timed and with host CPU counted. */
async function measure(total: number, call: () => Promise<unknown>): Promise<Measure> {
  const latency = new Latency();
  const cpu0 = process.cpuUsage();
  const ms = await drive(total, IN_FLIGHT, async () => {
    const t0 = process.hrtime.bigint();
    await call();
    latency.since(t0);
  });
  const cpu = process.cpuUsage(cpu0);
  return {
    runsPerSec: total / (ms / 1000),
    p50us: latency.percentileUs(50),
    p99us: latency.percentileUs(99),
    cpuUsPerRun: (cpu.user + cpu.system) / total,
  };
}

function corral(isolation: 'thread' | 'process' | 'inline', job: Job, total: number): Variant<Measure> {
  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: IN_FLIGHT });
  const { file, payload } = jobs[job];
  return {
    name: `corral ${isolation}`,
    async setup() {
      orch.registerWorker('job', file, {
        executionMode: WorkerExecutionMode.TRIGGERED,
        isolation,
        concurrency: isolation === 'inline' ? IN_FLIGHT : 2,
        maxRetries: 0,
      });
      await orch.start();
    },
    round: () => measure(total, () => orch.run('job', payload)),
    async teardown() {
      await orch.stop();
    },
  };
}

function rawPiscina(job: Job, total: number): Variant<Measure> {
  const { file, payload } = jobs[job];
  const pool = new Piscina({ filename: file, minThreads: 2, maxThreads: 2, idleTimeout: 60_000 });
  return {
    name: 'raw piscina',
    round: () => measure(total, () => pool.run(payload)),
    teardown: () => pool.destroy(),
  };
}

function echoPool(total: number): Variant<Measure> {
  const pool = new RawForkPool('echo', 2);
  return {
    name: 'bare echo pool (limit)',
    round: () => measure(total, () => pool.run(jobs.noop.payload)),
    teardown: () => pool.close(),
  };
}

function rawFork(job: Job, total: number): Variant<Measure> {
  const { file, payload } = jobs[job];
  const pool = new RawForkPool(file, 2);
  return {
    name: 'raw fork pool',
    round: () => measure(total, () => pool.run(payload)),
    teardown: () => pool.close(),
  };
}

async function plainCall(job: Job, total: number): Promise<Variant<Measure>> {
  const { file, payload } = jobs[job];
  const fn = (await import(file)).default as (ctx: unknown) => unknown;
  return { name: 'plain async call', round: () => measure(total, async () => fn({ payload })) };
}

const results: Record<string, unknown> = {};
header('dispatch: corral vs the raw mechanism', { inFlight: IN_FLIGHT, rounds: ROUNDS, sandboxes: 2 });
const rows: (string | number)[][] = [];
for (const job of Object.keys(jobs) as Job[]) {
  const n = job === 'noop' ? 20_000 : 2_000;
  // Each group: corral, the raw mechanism it is compared with, and (process, no-op) the limit.
  const groups: Variant<Measure>[][] = [
    [corral('thread', job, n), rawPiscina(job, n)],
    [corral('process', job, n), rawFork(job, n), ...(job === 'noop' ? [echoPool(n)] : [])],
    [corral('inline', job, job === 'noop' ? 100_000 : n), await plainCall(job, job === 'noop' ? 100_000 : n)],
  ];
  for (const group of groups) {
    const out = await interleave(group, ROUNDS);
    const measured = group.map((v) => [v.name, out.get(v.name)] as const);
    const [a, b, ...limits] = measured;
    if (a?.[1] === undefined || b?.[1] === undefined) continue;
    const ra = a[1];
    results[`${job}: ${group.map((v) => v.name).join(' vs ')}`] = Object.fromEntries(measured);
    for (const [name, r] of measured) {
      if (r === undefined) continue;
      const vsRaw = `${(ra.runsPerSec.median / b[1].runsPerSec.median).toFixed(2)}×`;
      const vsLimit = `corral at ${(ra.runsPerSec.median / r.runsPerSec.median).toFixed(2)}× of it`;
      rows.push([
        job,
        name,
        fmt(r.runsPerSec),
        r.p50us.median.toFixed(0),
        r.p99us.median.toFixed(0),
        r.cpuUsPerRun.median.toFixed(1),
        name === a[0] ? vsRaw : limits.some(([l]) => l === name) ? vsLimit : '',
      ]);
    }
  }
}
table(
  ['job', 'variant', 'runs/s median (min–max)', 'p50 µs', 'p99 µs', 'host CPU µs/run', 'corral / raw'],
  rows,
);
save('dispatch', results);
