// Dispatch: what corral adds to one run, next to the raw mechanism it is built on. Triggered runs of a
// no-op job and of a ~1 ms CPU job, 2 threads / 2 children, 64 runs in flight, interleaved rounds:
// corral thread vs raw piscina; corral process vs a raw fork pool (same IPC serialization) and vs the
// echo pool (limit): children that send each message straight back, one IPC message each way per run;
// corral inline vs a plain async call; and a fresh thread per run: corral thread with
// recycleAfterRuns: 1 vs `new Worker` per job running the same module. Runs/s, p50/p99 latency per
// run, host CPU per run.
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { Piscina } from 'piscina';
import { EchoPool } from './lib/echo-pool.ts';
import { type ForkPool, RawForkPool } from './lib/raw-fork-pool.ts';
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
async function measure(total: number, call: () => Promise<unknown>, inFlight = IN_FLIGHT): Promise<Measure> {
  const latency = new Latency();
  const cpu0 = process.cpuUsage();
  const ms = await drive(total, inFlight, async () => {
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

function corral(
  isolation: 'thread' | 'process' | 'inline',
  job: Job,
  total: number,
  fresh = false,
): Variant<Measure> {
  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: IN_FLIGHT });
  const { file, payload } = jobs[job];
  return {
    name: `corral ${isolation}${fresh ? ', recycleAfterRuns: 1' : ''}`,
    async setup() {
      orch.registerWorker('job', file, {
        executionMode: WorkerExecutionMode.TRIGGERED,
        isolation,
        concurrency: isolation === 'inline' ? IN_FLIGHT : 2,
        maxRetries: 0,
        // A fresh thread per run: no host loader flags to load in each, as for `new Worker` below.
        ...(fresh ? { recycleAfterRuns: 1, execArgv: [] } : {}),
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

/** A fork pool of 2 children: the raw pool running the job module, or the echo pool (the limit). */
function forkPool(kind: 'raw' | 'echo', job: Job, total: number): Variant<Measure> {
  const { file, payload } = jobs[job];
  const pool: ForkPool = kind === 'raw' ? new RawForkPool(file, 2) : new EchoPool(2);
  return {
    name: kind === 'raw' ? 'raw fork pool' : 'echo pool (limit)',
    round: () => measure(total, () => pool.run(payload)),
    teardown: () => pool.close(),
  };
}

/** A new thread per run (2 at a time) running the job module once: what recycleAfterRuns: 1 costs at least. */
function workerPerJob(job: Job, total: number): Variant<Measure> {
  const { file, payload } = jobs[job];
  const threadOnce = fileURLToPath(new URL('./fixtures/thread-once.mjs', import.meta.url));
  const run = async (): Promise<unknown> => {
    const worker = new Worker(threadOnce, { execArgv: [], workerData: { file, payload } });
    const [message] = (await once(worker, 'message')) as [{ result: unknown }];
    return message.result;
  };
  return { name: 'new Worker per job', round: () => measure(total, run, 2) };
}

async function plainCall(job: Job, total: number): Promise<Variant<Measure>> {
  const { file, payload } = jobs[job];
  const fn = (await import(file)).default as (ctx: unknown) => unknown;
  return { name: 'plain async call', round: () => measure(total, async () => fn({ payload })) };
}

const results: Record<string, unknown> = {};
header('dispatch: corral vs the raw mechanism', { inFlight: IN_FLIGHT, rounds: ROUNDS, sandboxes: 2 });
const rows: (string | number)[][] = [];
const only = process.env.BENCH_ONLY; // e.g. "process": only the groups whose corral variant says so
for (const job of Object.keys(jobs) as Job[]) {
  const n = job === 'noop' ? 20_000 : 2_000;
  // A group: corral first, then what it is compared with; a baseline's row shows corral ÷ baseline.
  const groups: Variant<Measure>[][] = [
    [corral('thread', job, n), rawPiscina(job, n)],
    // The echo pool runs no job: it is the limit for the no-op only.
    [
      corral('process', job, n),
      forkPool('raw', job, n),
      ...(job === 'noop' ? [forkPool('echo', job, n)] : []),
    ],
    [corral('inline', job, job === 'noop' ? 100_000 : n), await plainCall(job, job === 'noop' ? 100_000 : n)],
  ];
  if (job === 'cpu1ms') groups.push([corral('thread', job, 100, true), workerPerJob(job, 100)]);
  for (const group of groups) {
    const [subject] = group;
    if (subject === undefined) continue;
    if (only !== undefined && !subject.name.includes(only)) {
      // Skipped: end what its variants already started (the fork pools' children).
      await Promise.all(group.map((v) => v.teardown?.()));
      continue;
    }
    const out = await interleave(group, ROUNDS);
    const rs = out.get(subject.name);
    if (rs === undefined) continue;
    results[`${job}: ${group.map((v) => v.name).join(' vs ')}`] = Object.fromEntries(out);
    for (const v of group) {
      const r = out.get(v.name);
      if (r === undefined) continue;
      rows.push([
        job,
        v.name,
        fmt(r.runsPerSec),
        r.p50us.median.toFixed(0),
        r.p99us.median.toFixed(0),
        r.cpuUsPerRun.median.toFixed(1),
        v === subject ? '' : `${(rs.runsPerSec.median / r.runsPerSec.median).toFixed(2)}×`,
      ]);
    }
  }
}
table(
  ['job', 'variant', 'runs/s median (min–max)', 'p50 µs', 'p99 µs', 'host CPU µs/run', 'corral ÷ this'],
  rows,
);
save('dispatch', results);
