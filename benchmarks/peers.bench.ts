// Peers: the same short job run by corral and by the tools it is compared with in the README. The job is
// fixtures/spin.mjs with payload { ms: 1 } (about 1 ms of busy CPU), two at a time everywhere:
//   - Bree: a new worker thread per run (bree.run(name); two jobs on the same file, so two runs at once,
//     since Bree runs one instance of a job at a time; completion by the documented 'done' message),
//   - BullMQ with a sandboxed processor (a file path, worker concurrency 2, 64 jobs pending, kept topped
//     up by a feeder; timed from the first add to the last 'completed'), on a throwaway local redis-server,
//   - a fresh child_process.fork per job and a fresh `new Worker` per job (the raw mechanisms; a slot is
//     free once the result is back, the sandbox then exits on its own),
//   - corral process and thread (concurrency 2, sandboxes reused) and corral with recycleAfterRuns: 1
//     (a fresh sandbox per run), 64 runs in flight.
// With 1 ms of CPU per job and 2 sandboxes, no variant can pass 2,000 runs/s, so the reused-sandbox
// variants (BullMQ, corral process, corral thread) also run a no-op (spin.mjs with { ms: 0 }), where
// the cost of dispatch is what is measured.
// Every fresh sandbox starts as plain `node` (execArgv: []), so none pays the host's `--import tsx`.
// Every child process (fork per job, BullMQ's children, redis-server) is started `detached`, as corral
// starts its own: with the Linux scheduler's autogroups (sched_autogroup_enabled), a process in a session
// of its own gets a CPU share of its own, so on a busy machine a child left in the host's session runs
// ~25% slower than corral's, which would flatter corral.
// Runs/s per round, interleaved rounds. Slow variants (Bree, fork per job, corral process recycled) do
// 40 runs per round, fresh threads 80, BullMQ 1,000, the reused corral sandboxes 2,000 (no-op 5,000).
// Targets: corral process ≥ 5× BullMQ sandboxed; corral recycleAfterRuns: 1 ≥ 0.95× the raw mechanism.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { type BullMQ, importPeer } from './lib/peers.ts';
import { onPath, type RedisServer, startRedis } from './lib/redis.ts';
import { fmt, header, save, table } from './lib/report.ts';
import { drive, interleave, type Variant } from './lib/rounds.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IN_FLIGHT = 64;
const SANDBOXES = 2;
const RUNS = { slow: 40, freshThread: 80, bullmq: 1_000, reused: 2_000, reusedNoop: 5_000 };
const jobs = { '1 ms': { ms: 1 }, 'no-op': { ms: 0 } } as const;
type Job = keyof typeof jobs;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const spinFile = fixture('spin.mjs');

type Measure = { runsPerSec: number };

async function timed(total: number, inFlight: number, call: () => Promise<unknown>): Promise<Measure> {
  const ms = await drive(total, inFlight, call);
  return { runsPerSec: total / (ms / 1000) };
}

// --- Bree, loaded only if benchmarks/peers/node_modules has it (typed here, so that the library's
// typecheck does not depend on it being installed; BullMQ's types are in lib/peers.ts) ---

interface Bree {
  init(): Promise<void>;
  run(name: string): Promise<void>;
  stop(): Promise<void>;
  on(event: 'worker deleted', listener: (name: string) => void): unknown;
  off(event: 'worker deleted', listener: (name: string) => void): unknown;
}
type BreeClass = new (config: Record<string, unknown>) => Bree;

function bree(BreeCtor: BreeClass, total: number): Variant<Measure> {
  const payload = jobs['1 ms'];
  const lanes = Array.from({ length: SANDBOXES }, (_, i) => `lane${i}`);
  const errors: unknown[] = [];
  const b = new BreeCtor({
    root: false,
    logger: false,
    errorHandler: (error: unknown) => errors.push(error),
    jobs: lanes.map((name) => ({
      name,
      path: fixture('bree-job.mjs'),
      worker: { execArgv: [], workerData: { payload } },
    })),
  });
  const runOnce = async (name: string): Promise<void> => {
    const deleted = new Promise<void>((resolve) => {
      const listener = (n: string) => {
        if (n !== name) return;
        b.off('worker deleted', listener);
        resolve();
      };
      b.on('worker deleted', listener);
    });
    await b.run(name);
    await deleted;
  };
  return {
    name: '1 ms: Bree (new thread per run)',
    setup: () => b.init(),
    async round() {
      let started = 0;
      const t0 = performance.now();
      await Promise.all(
        lanes.map(async (name) => {
          while (started < total) {
            started++;
            await runOnce(name);
          }
        }),
      );
      const ms = performance.now() - t0;
      if (errors.length > 0) throw new AggregateError(errors, 'Bree job failed');
      return { runsPerSec: total / (ms / 1000) };
    },
    teardown: () => b.stop(),
  };
}

// --- BullMQ, sandboxed processor, on a redis-server of its own ---

function bullmq(
  { Queue, Worker: BullWorkerClass }: BullMQ,
  port: number,
  job: Job,
  total: number,
): Variant<Measure> {
  const connection = { host: '127.0.0.1', port };
  const name = job === '1 ms' ? 'peers-1ms' : 'peers-noop';
  const payload = jobs[job];
  const queue = new Queue(name, { connection });
  const worker = new BullWorkerClass(name, fixture('bullmq-processor.mjs'), {
    connection,
    concurrency: SANDBOXES,
    useWorkerThreads: false, // a child process per sandbox
    workerForkOptions: { detached: true }, // a session of its own, as corral's children (see the header)
  });
  const waiting = new Map<string, { resolve(): void; reject(error: Error): void }>();
  worker.on('completed', (job, result) => {
    if (job.id === undefined) return;
    // spin.mjs returns its iteration count: anything else means the processor did not run the job.
    if (typeof result === 'number') waiting.get(job.id)?.resolve();
    else waiting.get(job.id)?.reject(new Error(`BullMQ job ${job.id} returned ${String(result)}`));
  });
  worker.on('failed', (job, error) => {
    if (job?.id !== undefined) waiting.get(job.id)?.reject(error);
  });
  worker.on('error', (error) => console.error('BullMQ worker error:', error.message));
  let seq = 0;
  const one = async (): Promise<void> => {
    const id = `j${seq++}`;
    const completed = new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
    try {
      await queue.add('spin', payload, { jobId: id, removeOnComplete: true, removeOnFail: true });
      await completed;
    } finally {
      waiting.delete(id);
    }
  };
  return {
    name: `${job}: BullMQ sandboxed (2 children)`,
    async setup() {
      await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    },
    round: () => timed(total, IN_FLIGHT, one),
    async teardown() {
      await worker.close();
      await queue.close();
    },
  };
}

// --- the raw mechanisms: a fresh sandbox per job ---

function rawFresh(kind: 'fork' | 'thread', total: number): Variant<Measure> {
  const payload = jobs['1 ms'];
  const alive = new Set<Promise<unknown>>();
  const track = (exit: Promise<unknown>) => {
    alive.add(exit);
    void exit.then(() => alive.delete(exit));
  };
  const forkOnce = fixture('fork-once.mjs');
  const threadOnce = fixture('thread-once.mjs');
  const run = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      let answered = false;
      const sandbox: ChildProcess | Worker =
        kind === 'fork'
          ? fork(forkOnce, [spinFile, JSON.stringify(payload)], {
              detached: true, // a session of its own, as corral's children (see the header)
              execArgv: [],
              serialization: 'advanced',
              stdio: 'ignore',
            })
          : new Worker(threadOnce, { execArgv: [], workerData: { file: spinFile, payload } });
      track(once(sandbox, 'exit').catch(() => undefined));
      sandbox.once('message', (message: { result: unknown }) => {
        answered = true;
        resolve(message.result);
      });
      sandbox.once('error', reject);
      // A child's 'exit' can come before its last IPC message; 'close' comes after both.
      sandbox.once(kind === 'fork' ? 'close' : 'exit', (code: number | null) => {
        if (!answered) reject(new Error(`${kind} exited with ${code} before answering`));
      });
    });
  return {
    name: kind === 'fork' ? '1 ms: fork per job' : '1 ms: new Worker per job',
    round: () => timed(total, SANDBOXES, run),
    async teardown() {
      while (alive.size > 0) await Promise.all(alive);
    },
  };
}

// --- corral ---

function corral(
  isolation: 'thread' | 'process',
  recycle: boolean,
  job: Job,
  total: number,
): Variant<Measure> {
  const payload = jobs[job];
  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: IN_FLIGHT });
  return {
    name: `${job}: corral ${isolation}${recycle ? ', recycleAfterRuns: 1' : ''}`,
    async setup() {
      orch.registerWorker('job', spinFile, {
        executionMode: WorkerExecutionMode.TRIGGERED,
        isolation,
        concurrency: SANDBOXES,
        maxRetries: 0,
        execArgv: [],
        ...(recycle ? { recycleAfterRuns: 1 } : {}),
      });
      await orch.start();
    },
    round: () => timed(total, IN_FLIGHT, () => orch.run('job', payload)),
    async teardown() {
      await orch.stop();
    },
  };
}

// --- the scenario ---

header('peers: corral vs Bree, BullMQ sandboxed, fork / new Worker per job', {
  jobs: 'spin.mjs {ms:1} (all); spin.mjs {ms:0}, a no-op (reused sandboxes only)',
  sandboxes: SANDBOXES,
  inFlight: IN_FLIGHT,
  rounds: ROUNDS,
  runsPerRound: RUNS,
});

/** One row of the table: a variant, and the baseline its ratio is taken against (with a target). */
interface Row {
  variant: Variant<Measure>;
  job: Job;
  label: string;
  baseline?: string;
  target?: number;
}
const rows: Row[] = [];

const breeClass = await importPeer<BreeClass>('bree');
const bullModule = await importPeer<BullMQ>('bullmq');
for (const [peer, loaded] of [
  ['Bree', breeClass],
  ['BullMQ', bullModule],
] as const) {
  if (loaded === undefined) {
    console.log(
      `${peer} skipped: not installed (npm --prefix benchmarks/peers install --no-audit --no-fund)\n`,
    );
  }
}
let redis: RedisServer | undefined;
try {
  if (bullModule !== undefined) {
    if (onPath('redis-server')) redis = await startRedis();
    else console.log('BullMQ skipped: redis-server not installed (apt-get install redis-server)\n');
  }
  for (const job of Object.keys(jobs) as Job[]) {
    const reused = job === '1 ms' ? RUNS.reused : RUNS.reusedNoop;
    const bull = redis === undefined ? undefined : bullmq(bullModule as BullMQ, redis.port, job, RUNS.bullmq);
    if (bull !== undefined) rows.push({ variant: bull, job, label: 'BullMQ sandboxed (2 children)' });
    rows.push(
      { variant: corral('process', false, job, reused), job, label: 'corral process', target: 5 },
      { variant: corral('thread', false, job, reused), job, label: 'corral thread' },
    );
    if (bull !== undefined) {
      for (const row of rows.slice(-2)) row.baseline = bull.name;
    }
  }
  if (breeClass !== undefined) {
    rows.push({ variant: bree(breeClass, RUNS.slow), job: '1 ms', label: 'Bree (new thread per run)' });
  }
  const worker = rawFresh('thread', RUNS.freshThread);
  const forked = rawFresh('fork', RUNS.slow);
  rows.push(
    { variant: worker, job: '1 ms', label: 'new Worker per job' },
    {
      variant: corral('thread', true, '1 ms', RUNS.freshThread),
      job: '1 ms',
      label: 'corral thread, recycleAfterRuns: 1',
      baseline: worker.name,
      target: 0.95,
    },
    { variant: forked, job: '1 ms', label: 'fork per job' },
    {
      variant: corral('process', true, '1 ms', RUNS.slow),
      job: '1 ms',
      label: 'corral process, recycleAfterRuns: 1',
      baseline: forked.name,
      target: 0.95,
    },
  );
  const bree0 = rows.find((row) => row.label.startsWith('Bree'));
  if (bree0 !== undefined) bree0.baseline = worker.name;

  const results = await interleave(
    rows.map((row) => row.variant),
    ROUNDS,
  );
  const labels = new Map(rows.map((row) => [row.variant.name, row.label]));
  const ratios: Record<string, unknown> = {};
  const lines: string[][] = [];
  for (const row of rows) {
    const r = results.get(row.variant.name)?.runsPerSec;
    if (r === undefined) continue;
    let ratio = row.baseline === undefined ? '' : 'baseline';
    let verdict = '';
    const base = row.baseline === undefined ? undefined : results.get(row.baseline)?.runsPerSec;
    if (row.baseline !== undefined && base !== undefined) {
      // Ratio of the medians, with the range of the per-round ratios (the rounds are interleaved).
      const median = r.median / base.median;
      const perRound = r.rounds.map((v, i) => v / (base.rounds[i] as number));
      ratios[`${row.variant.name} / ${row.baseline}`] = { median, perRound, target: row.target };
      ratio = `${median.toFixed(2)}× ${labels.get(row.baseline)} (rounds ${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)})`;
      if (row.target !== undefined) verdict = `≥ ${row.target}×: ${median >= row.target ? 'met' : 'MISSED'}`;
    }
    if (rows.some((other) => other.baseline === row.variant.name)) ratio = 'baseline';
    lines.push([row.job, row.label, fmt(r), ratio, verdict]);
  }
  table(['job', 'variant', 'runs/s median (min–max)', 'ratio', 'target'], lines);
  save('peers', {
    jobs: { file: 'fixtures/spin.mjs', payloads: jobs },
    sandboxes: SANDBOXES,
    inFlight: IN_FLIGHT,
    runsPerRound: RUNS,
    rounds: ROUNDS,
    results: Object.fromEntries(results),
    ratios,
  });
} finally {
  await redis?.stop();
}
