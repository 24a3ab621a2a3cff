// Cluster: corral's cluster mode (BullMQ on Redis) against BullMQ itself, how it scales with hosts, what
// it asks of Redis per run, and whether a schedule fires once under load. Every process is real: each
// host is a process of its own (fixtures/cluster-host.mjs, fixtures/bullmq-host.mjs, started detached,
// as a host on a machine of its own would be scheduled), this process only submits and waits for the
// outcomes, and each redis-server is a throwaway one on a free loopback port (persistence off).
//
// (1) One host, triggered runs of fixtures/spin.mjs, a no-op ({ ms: 0 }) and ~1 ms of CPU ({ ms: 1 }),
//     64 runs in flight, 2 sandboxes: corral with `process` isolation (maxConcurrentWorkers 2,
//     concurrency 2) and `thread` isolation, vs BullMQ's sandboxed processor (a file path: 2 child
//     processes, worker concurrency 2; fixtures/bullmq-processor.mjs runs the same spin.mjs). corral's
//     hosts keep its defaults (health sampling on), sandboxes kept between rounds as BullMQ's are. corral's
//     submitter is an orchestrator with `execute: false` calling `run()`, which resolves with the run's
//     result (its host learns the outcome from the queue's event stream, whichever host ran it); BullMQ's
//     is a Queue (`add` with our own job id) and a QueueEvents whose 'completed' / 'failed' listener
//     settles the waiting caller by job id: BullMQ's own way for a submitter apart from its workers, and
//     the cheapest one (`job.waitUntilFinished` would add an isFinished script call per job). Both
//     keep finished jobs alike (removeOnComplete { age: 3600, count: 10000 }, corral's setting). Each
//     side has a redis-server of its own, so that one side's idle traffic is not counted as the other's
//     (3). Runs/s, p50 / p99 latency from submit to the outcome known to the submitter, and CPU time per
//     run of the submitter (this process), of the host with its sandboxes and of Redis (/proc);
//     interleaved rounds (every variant of both jobs in turn), medians. Target: corral process ≥ 1.5×
//     BullMQ, p99 no worse.
// (2) 1, 2 and 3 hosts, a 50 ms I/O-bound job (fixtures/sleep-long.mjs, { ms: 50 }: a timer and nothing
//     else) in `thread` isolation, maxConcurrentWorkers 4 per host, 64 runs in flight (so runs always
//     wait). Three hosts stay up for the whole part and register three workers: io-1 on host A only,
//     io-2 on A and B, io-3 on A, B and C (cluster-wide concurrency 12), so driving io-N is N hosts
//     sharing one worker and the host counts interleave without restarts. Runs/s and the ratio to one
//     host (ideal: N× the 80 runs/s one host's 4 slots allow).
// (3) Redis per completed run, no-op runs of (1), 1 host each: what clients send (MONITOR over a sample;
//     a script call is one round trip though the commands it runs show in MONITOR as "lua" and are not
//     counted, a MULTI … EXEC is one) and what Redis executed (INFO commandstats, script-inner calls
//     included), with the top kinds per run. Both sides' submitters and hosts are counted, background
//     work included (heartbeats, blocking reads), and their idle rate (commands/s with nothing to run) is
//     given apart. Target: corral's round trips per run ≤ BullMQ's.
// (4) Fire once under load: 3 hosts, an interval worker (spin.mjs, 1 ms) every 0.5 s, while the hosts'
//     slots (4 each) are kept busy by 64 triggered 50 ms runs in flight for 20 s. An interval is due
//     `intervalSeconds` after its previous run ended, and each due time is one job `i-<due>` (the run's
//     id, reported by each host's worker:start). Expected: the due times Redis holds (the jobs of the
//     chain) that fell due before the end; fired: those that started; duplicates: a due time started
//     more than once; late: start − due time (about the triggered runs' wait in the queue: a due run
//     has their priority, and a host takes the run that has waited longest first).
// BENCH_ROUNDS (default 5) scales the rounds of (1) and (2); CLUSTER_FIRE_S (default 20) the length of (4).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { Redis } from 'ioredis';
import { type BullMQ, type BullQueue, type BullQueueEvents, importPeer, peerPath } from './lib/peers.ts';
import { treeCpuMs } from './lib/proc-cpu.ts';
import { forkHost, type HostMessage, type HostProcess } from './lib/processes.ts';
import { onPath, type RedisServer, startRedis } from './lib/redis.ts';
import { bullScriptNames, type CommandCount, CommandCounter, perRun } from './lib/redis-commands.ts';
import { fmt, header, save, table } from './lib/report.ts';
import { drive, interleave, type Variant } from './lib/rounds.ts';
import { Latency, type Summary, summarize } from './lib/stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FIRE_MS = Number(process.env.CLUSTER_FIRE_S ?? 20) * 1000;
const IN_FLIGHT = 64;
const SANDBOXES = 2;
/** Runs per round of (1). */
const RUNS = { 'no-op': 1_000, '1 ms': 600 } as const;
const jobs = { 'no-op': { ms: 0 }, '1 ms': { ms: 1 } } as const;
type Job = keyof typeof jobs;
/** (2): slots per host, the job's length, runs per round per host. */
const SCALE = { cap: 4, jobMs: 50, runsPerHost: 120, hosts: 3 };
/** (3): runs counted. */
const COUNTED_RUNS = 400;
/** (4): the interval, and how long a due time that fell due before the end has to start. */
const FIRE = { intervalSeconds: 0.5, graceMs: 3_000 };
/** How long finished jobs stay in Redis: corral's setting (cluster-queue.ts), given to BullMQ too. */
const KEEP_FINISHED = { age: 3600, count: 10_000 };

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const spinFile = fixture('spin.mjs');
const sleepFile = fixture('sleep-long.mjs');
const corralHost = fixture('cluster-host.mjs');
const bullHost = fixture('bullmq-host.mjs');

type Measure = { runsPerSec: number; p50ms: number; p99ms: number };

/** A round: `total` calls, IN_FLIGHT at a time; runs/s and the latency of each call. */
async function measure(total: number, call: () => Promise<unknown>): Promise<Measure> {
  const latency = new Latency();
  const ms = await drive(total, IN_FLIGHT, async () => {
    const t0 = process.hrtime.bigint();
    await call();
    latency.since(t0);
  });
  return {
    runsPerSec: total / (ms / 1000),
    p50ms: latency.percentileUs(50) / 1000,
    p99ms: latency.percentileUs(99) / 1000,
  };
}

type CpuMeasure = Measure & { submitterCpuUs: number; hostCpuUs: number; redisCpuUs: number };

/** A round of {@link measure}, with the CPU time per run of this process, of the host's tree and of Redis. */
async function measureCpu(
  total: number,
  call: () => Promise<unknown>,
  pids: { host: number; redis: number },
): Promise<CpuMeasure> {
  const submitter0 = process.cpuUsage();
  const host0 = treeCpuMs(pids.host);
  const redis0 = treeCpuMs(pids.redis);
  const m = await measure(total, call);
  const submitter = process.cpuUsage(submitter0);
  return {
    ...m,
    submitterCpuUs: (submitter.user + submitter.system) / total,
    hostCpuUs: ((treeCpuMs(pids.host) - host0) * 1000) / total,
    redisCpuUs: ((treeCpuMs(pids.redis) - redis0) * 1000) / total,
  };
}

/** spin.mjs returns its iteration count: anything else means the job did not run. */
function checkSpin(result: unknown): void {
  if (typeof result !== 'number') throw new Error(`the job returned ${JSON.stringify(result)}`);
}

// --- what is started, stopped at the end whatever happens (last started, first stopped) ---

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop() as () => Promise<unknown>;
    await fn().catch((error: unknown) => console.error('clean-up:', error));
  }
}

interface WorkerSpec {
  name: string;
  file: string;
  options: Record<string, unknown>;
}

interface HostSpec {
  redis: string;
  name: string;
  hostId: string;
  maxConcurrentWorkers: number;
  workers: WorkerSpec[];
  watch?: string[];
}

async function startCorralHosts(
  specs: HostSpec[],
  onMessage?: (message: HostMessage) => void,
): Promise<HostProcess[]> {
  const hosts = specs.map((spec) => forkHost(spec.hostId, corralHost, [JSON.stringify(spec)], onMessage));
  for (const host of hosts) cleanups.push(() => host.stop());
  await Promise.all(hosts.map((host) => host.ready));
  return hosts;
}

/** The orchestrator this process submits through: a cluster host that runs nothing. */
async function submitter(redis: string, name: string, workers: WorkerSpec[]): Promise<WorkerOrchestrator> {
  const orch = new WorkerOrchestrator({
    logger: false,
    maxConcurrentWorkers: SANDBOXES,
    cluster: { redis, name, hostId: 'submitter', execute: false },
  });
  for (const w of workers) orch.registerWorker(w.name, w.file, w.options as never);
  await orch.start();
  cleanups.push(() => orch.stop());
  return orch;
}

async function stopAll(hosts: HostProcess[], orch: WorkerOrchestrator): Promise<void> {
  await Promise.all(hosts.map((host) => host.stop()));
  await orch.stop();
}

// --- (1) one host: corral vs BullMQ ---

const spinWorkers: WorkerSpec[] = (['process', 'thread'] as const).map((isolation) => ({
  name: `spin-${isolation}`,
  file: spinFile,
  options: {
    executionMode: WorkerExecutionMode.TRIGGERED,
    isolation,
    concurrency: SANDBOXES,
    maxRetries: 0,
    execArgv: [],
    idleTimeoutSeconds: 3600, // sandboxes kept between rounds, as BullMQ's children are
  },
}));

interface BullSide {
  queue: BullQueue;
  events: BullQueueEvents;
  host: HostProcess;
  run(payload: unknown): Promise<unknown>;
}

async function startBull(bull: BullMQ, entry: string, port: number): Promise<BullSide> {
  const connection = { host: '127.0.0.1', port };
  const name = 'spin';
  const host = forkHost('bullmq host', bullHost, [
    JSON.stringify({
      bullmq: entry,
      port,
      queue: name,
      processor: fixture('bullmq-processor.mjs'),
      concurrency: SANDBOXES,
    }),
  ]);
  cleanups.push(() => host.stop());
  const queue = new bull.Queue(name, { connection });
  const events = new bull.QueueEvents(name, { connection });
  cleanups.push(() => queue.close());
  cleanups.push(() => events.close());
  const waiting = new Map<string, { resolve(value: unknown): void; reject(error: Error): void }>();
  events.on('completed', ({ jobId, returnvalue }) => waiting.get(jobId)?.resolve(returnvalue));
  events.on('failed', ({ jobId, failedReason }) => waiting.get(jobId)?.reject(new Error(failedReason)));
  events.on('error', (error) => console.error('BullMQ QueueEvents error:', error.message));
  await Promise.all([host.ready, queue.waitUntilReady(), events.waitUntilReady()]);
  let seq = 0;
  return {
    queue,
    events,
    host,
    async run(payload) {
      const id = `j${seq++}`;
      const outcome = new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
      outcome.catch(() => undefined); // a failure reported before `add` resolves is awaited below
      try {
        await queue.add('spin', payload, {
          jobId: id,
          removeOnComplete: KEEP_FINISHED,
          removeOnFail: KEEP_FINISHED,
        });
        return await outcome;
      } finally {
        waiting.delete(id);
      }
    },
  };
}

// --- (4) fire once ---

interface FireReport {
  windowMs: number;
  intervalMs: number;
  nominal: number;
  expected: number;
  fired: number;
  missed: number[];
  duplicates: { due: number; starts: number }[];
  unexpected: number[];
  lateMs: { p50: number; p99: number; max: number };
  /** From a run's end to the next due time: the interval itself, by Redis's clock vs the host's. */
  gapAfterEndMs: { min: number; median: number; max: number };
  byHost: Record<string, number>;
  loadRuns: number;
}

async function fireOnce(redisServer: RedisServer): Promise<FireReport> {
  const name = 'fire';
  const load: WorkerSpec = {
    name: 'load',
    file: sleepFile,
    options: {
      executionMode: WorkerExecutionMode.TRIGGERED,
      isolation: 'thread',
      concurrency: SCALE.cap * 3,
      maxRetries: 0,
      execArgv: [],
    },
  };
  const tick: WorkerSpec = {
    name: 'tick',
    file: spinFile,
    options: {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: FIRE.intervalSeconds,
      isolation: 'thread',
      maxRetries: 0,
      execArgv: [],
    },
  };
  const starts: HostMessage[] = [];
  const ends: HostMessage[] = [];
  const begin = Date.now();
  const hosts = await startCorralHosts(
    ['F1', 'F2', 'F3'].map((hostId) => ({
      redis: redisServer.url,
      name,
      hostId,
      maxConcurrentWorkers: SCALE.cap,
      workers: [load, tick],
      watch: ['tick'],
    })),
    (message) => {
      if (message.type === 'start') starts.push(message);
      else if (message.type === 'end') ends.push(message);
    },
  );
  const orch = await submitter(redisServer.url, name, [load]);
  // Triggered load until the deadline, IN_FLIGHT at a time.
  let loadRuns = 0;
  const deadline = Date.now() + FIRE_MS;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (Date.now() < deadline) {
        await orch.run('load', { ms: SCALE.jobMs });
        loadRuns++;
      }
    }),
  );
  const end = Date.now();
  // Due times that fell due before the end get FIRE.graceMs to start (the load has drained by then).
  await new Promise((resolve) => setTimeout(resolve, FIRE.graceMs));
  const redis = new Redis(redisServer.url);
  const dues: number[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${name}}:tick:i-*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const due = /:i-(\d+)$/.exec(key)?.[1];
        if (due !== undefined) dues.push(Number(due));
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  await stopAll(hosts, orch);

  const expected = new Set(dues.filter((due) => due <= end));
  const startsByDue = new Map<number, HostMessage[]>();
  for (const start of starts) {
    const due = Number(/^i-(\d+)$/.exec(String(start.runId))?.[1]);
    const list = startsByDue.get(due) ?? [];
    list.push(start);
    startsByDue.set(due, list);
  }
  const fired = [...startsByDue.keys()].filter((due) => due <= end).sort((a, b) => a - b);
  const late = new Latency();
  const byHost: Record<string, number> = {};
  for (const due of fired) {
    const first = (startsByDue.get(due) as HostMessage[])[0] as HostMessage;
    late.recordMs(Math.max(0, Number(first.at) - due));
    byHost[String(first.host)] = (byHost[String(first.host)] ?? 0) + 1;
  }
  // The interval after each run's end (the next due time − the end the host saw).
  const gaps: number[] = [];
  for (let i = 0; i + 1 < fired.length; i++) {
    const ended = ends.find((e) => e.runId === `i-${fired[i]}`);
    if (ended !== undefined) gaps.push((fired[i + 1] as number) - Number(ended.at));
  }
  const gap = summarize(gaps);
  const windowMs = end - begin;
  return {
    windowMs,
    intervalMs: FIRE.intervalSeconds * 1000,
    nominal: Math.floor(windowMs / (FIRE.intervalSeconds * 1000)),
    expected: expected.size,
    fired: fired.length,
    missed: [...expected].filter((due) => !startsByDue.has(due)),
    duplicates: [...startsByDue]
      .filter(([, list]) => list.length > 1)
      .map(([due, list]) => ({ due, starts: list.length })),
    unexpected: fired.filter((due) => !expected.has(due)),
    lateMs: {
      p50: late.percentileUs(50) / 1000,
      p99: late.percentileUs(99) / 1000,
      max: late.percentileUs(100) / 1000,
    },
    gapAfterEndMs: { min: gap.min, median: gap.median, max: gap.max },
    byHost,
    loadRuns,
  };
}

// --- (1) and (3), on the same processes ---

/** "median× (rounds min–max)" of `r` over `base`, per interleaved round. */
function ratio(r: Summary, base: Summary): { text: string; median: number; perRound: number[] } {
  const median = r.median / base.median;
  const perRound = r.rounds.map((v, i) => v / (base.rounds[i] as number));
  return {
    text: `${median.toFixed(2)}× (rounds ${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)})`,
    median,
    perRound,
  };
}

async function oneHost(corralRedis: RedisServer, bullRedis: RedisServer | undefined): Promise<void> {
  const [host] = await startCorralHosts([
    {
      redis: corralRedis.url,
      name: 'bench',
      hostId: 'host-1',
      maxConcurrentWorkers: SANDBOXES,
      workers: spinWorkers,
    },
  ]);
  const orch = await submitter(corralRedis.url, 'bench', spinWorkers);
  const bullSide =
    bull === undefined || bullRedis === undefined || bullEntry === undefined
      ? undefined
      : await startBull(bull, bullEntry, bullRedis.port);

  // (1)
  const BULL = 'BullMQ sandboxed (2 children)';
  const variants: Variant<CpuMeasure>[] = [];
  const labels = new Map<string, { job: Job; label: string }>();
  const corralPids = { host: host?.child.pid as number, redis: corralRedis.pid };
  for (const job of Object.keys(jobs) as Job[]) {
    const payload = jobs[job];
    const add = (label: string, pids: { host: number; redis: number }, call: () => Promise<unknown>) => {
      const name = `${job}: ${label}`;
      labels.set(name, { job, label });
      variants.push({ name, round: () => measureCpu(RUNS[job], async () => checkSpin(await call()), pids) });
    };
    if (bullSide !== undefined && bullRedis !== undefined) {
      const pids = { host: bullSide.host.child.pid as number, redis: bullRedis.pid };
      add(BULL, pids, () => bullSide.run(payload));
    }
    add('corral process (2 children)', corralPids, () => orch.run('spin-process', payload));
    add('corral thread (2 threads)', corralPids, () => orch.run('spin-thread', payload));
  }
  const results = await interleave(variants, ROUNDS);
  const rows: string[][] = [];
  const ratios: Record<string, unknown> = {};
  for (const [name, r] of results) {
    const { job, label } = labels.get(name) as { job: Job; label: string };
    const base = results.get(`${job}: ${BULL}`);
    let text = '';
    let verdict = '';
    if (base !== undefined && label !== BULL) {
      const q = ratio(r.runsPerSec, base.runsPerSec);
      text = q.text;
      ratios[`${name} / BullMQ`] = { ...q, p99ms: r.p99ms.median, bullP99ms: base.p99ms.median };
      if (label.startsWith('corral process')) {
        const p99 = r.p99ms.median <= base.p99ms.median;
        verdict = `≥ 1.5×: ${q.median >= 1.5 ? 'met' : 'MISSED'}; p99: ${p99 ? 'met' : 'MISSED'}`;
      }
    } else if (base !== undefined) text = 'baseline';
    rows.push([
      job,
      label,
      fmt(r.runsPerSec),
      r.p50ms.median.toFixed(1),
      r.p99ms.median.toFixed(1),
      [r.submitterCpuUs, r.hostCpuUs, r.redisCpuUs].map((c) => c.median.toFixed(0)).join(' / '),
      text,
      verdict,
    ]);
  }
  console.log(`### (1) one host, ${IN_FLIGHT} in flight, ${SANDBOXES} sandboxes\n`);
  table(
    [
      'job',
      'variant',
      'runs/s median (min–max)',
      'p50 ms',
      'p99 ms',
      'CPU µs/run: submitter / host / Redis',
      'ratio to BullMQ',
      'target',
    ],
    rows,
  );
  out.oneHost = { results: Object.fromEntries(results), ratios };

  // (3)
  const counts = new Map<string, { idle: CommandCount; busy: CommandCount }>();
  counts.set(
    'corral process',
    await countCommands(corralRedis.port, () => orch.run('spin-process', jobs['no-op'])),
  );
  if (bullSide !== undefined && bullRedis !== undefined) {
    counts.set('BullMQ sandboxed', await countCommands(bullRedis.port, () => bullSide.run(jobs['no-op'])));
  }
  const perRunOut: Record<string, unknown> = {};
  const rtRows: string[][] = [];
  for (const [label, { idle, busy }] of counts) {
    const n = COUNTED_RUNS;
    const idleSeconds = idle.windowMs / 1000;
    perRunOut[label] = {
      runs: n,
      windowMs: busy.windowMs,
      roundTripsPerRun: busy.roundTrips / n,
      clientCommandsPerRun: busy.clientCommands / n,
      executedPerRun: busy.executed / n,
      roundTripsByKind: perRun(busy.byRoundTrip, n, 50),
      executedByCommand: perRun(busy.byExecuted, n, 50),
      idlePerSecond: {
        roundTrips: idle.roundTrips / idleSeconds,
        executed: idle.executed / idleSeconds,
        roundTripsByKind: perRun(idle.byRoundTrip, idleSeconds, 50),
      },
    };
    rtRows.push([
      label,
      (busy.roundTrips / n).toFixed(2),
      (busy.clientCommands / n).toFixed(2),
      (busy.executed / n).toFixed(1),
      (idle.roundTrips / idleSeconds).toFixed(1),
      Object.entries(perRun(busy.byRoundTrip, n, 7))
        .map(([kind, v]) => `${kind} ${v}`)
        .join(', '),
    ]);
  }
  console.log(`### (3) Redis per completed run (no-op, ${COUNTED_RUNS} runs, ${IN_FLIGHT} in flight)\n`);
  table(
    [
      'variant',
      'round trips',
      'client commands',
      'executed',
      'idle round trips/s',
      'top round trips per run',
    ],
    rtRows,
  );
  const corralRt = counts.get('corral process')?.busy.roundTrips;
  const bullRt = counts.get('BullMQ sandboxed')?.busy.roundTrips;
  if (corralRt !== undefined && bullRt !== undefined) {
    console.log(`round trips per run ≤ BullMQ: ${corralRt <= bullRt ? 'met' : 'MISSED'}\n`);
  }
  out.redisPerRun = perRunOut;

  await host?.stop();
  await orch.stop();
  if (bullSide !== undefined) {
    await bullSide.host.stop();
    await bullSide.queue.close();
    await bullSide.events.close();
  }
}

/** What Redis did: over 1 s with nothing to run, then over COUNTED_RUNS runs, IN_FLIGHT at a time. */
async function countCommands(
  port: number,
  call: () => Promise<unknown>,
): Promise<{ idle: CommandCount; busy: CommandCount }> {
  const counter = new CommandCounter(port, scriptNames);
  try {
    await counter.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const idle = await counter.finish();
    await counter.start();
    await drive(COUNTED_RUNS, IN_FLIGHT, call);
    const busy = await counter.finish();
    return { idle, busy };
  } finally {
    await counter.close();
  }
}

// --- (2) 1, 2, 3 hosts ---

async function scaling(redis: RedisServer): Promise<void> {
  const ioWorkers: WorkerSpec[] = [1, 2, 3].map((n) => ({
    name: `io-${n}`,
    file: sleepFile,
    options: {
      executionMode: WorkerExecutionMode.TRIGGERED,
      isolation: 'thread',
      concurrency: SCALE.cap * SCALE.hosts,
      maxRetries: 0,
      execArgv: [],
      idleTimeoutSeconds: 3600,
    },
  }));
  // Host A runs io-1, io-2 and io-3; B io-2 and io-3; C io-3.
  const hosts = await startCorralHosts(
    ['A', 'B', 'C'].map((hostId, i) => ({
      redis: redis.url,
      name: 'scale',
      hostId,
      maxConcurrentWorkers: SCALE.cap,
      workers: ioWorkers.slice(i),
    })),
  );
  const orch = await submitter(redis.url, 'scale', ioWorkers);
  const variants: Variant<Measure>[] = [1, 2, 3].map((n) => ({
    name: `${n} host${n > 1 ? 's' : ''}`,
    round: () =>
      measure(SCALE.runsPerHost * n, async () => {
        const slept = await orch.run(`io-${n}`, { ms: SCALE.jobMs });
        if (slept !== SCALE.jobMs) throw new Error(`the job returned ${JSON.stringify(slept)}`);
      }),
  }));
  const results = await interleave(variants, ROUNDS);
  await stopAll(hosts, orch);
  const one = results.get('1 host')?.runsPerSec;
  const rows: string[][] = [];
  const ratios: Record<string, unknown> = {};
  for (const [name, r] of results) {
    const ideal = (Number.parseInt(name, 10) * SCALE.cap * 1000) / SCALE.jobMs;
    const q = one === undefined ? undefined : ratio(r.runsPerSec, one);
    ratios[name] = { ...q, ofIdeal: r.runsPerSec.median / ideal };
    rows.push([
      name,
      fmt(r.runsPerSec),
      `${Math.round(ideal)}`,
      `${((r.runsPerSec.median / ideal) * 100).toFixed(0)} %`,
      r.p50ms.median.toFixed(1),
      r.p99ms.median.toFixed(1),
      q?.text ?? '',
    ]);
  }
  console.log(
    `### (2) hosts sharing a ${SCALE.jobMs} ms I/O job, ${SCALE.cap} slots per host, ${IN_FLIGHT} in flight\n`,
  );
  table(
    ['hosts', 'runs/s median (min–max)', 'ideal', 'of ideal', 'p50 ms', 'p99 ms', 'ratio to 1 host'],
    rows,
  );
  out.scaling = { results: Object.fromEntries(results), ratios };
}

// --- the scenario ---

header('cluster: corral cluster mode vs BullMQ, scaling with hosts, Redis per run, fire once', {
  inFlight: IN_FLIGHT,
  sandboxes: SANDBOXES,
  rounds: ROUNDS,
  runsPerRound: RUNS,
  countedRuns: COUNTED_RUNS,
  scale: SCALE,
  fire: { ...FIRE, seconds: FIRE_MS / 1000 },
});

if (!onPath('redis-server')) {
  console.log('cluster skipped: redis-server not installed (apt-get install redis-server)\n');
  process.exit(0);
}
const bullEntry = peerPath('bullmq');
const bull = await importPeer<BullMQ>('bullmq');
if (bull === undefined || bullEntry === undefined) {
  console.log('BullMQ skipped: not installed (npm --prefix benchmarks/peers install --no-audit --no-fund)\n');
}
/** BullMQ's scripts by SHA1, to name the EVALSHA calls counted in (3). corral's copy and the peer's. */
const scriptNames = bullScriptNames(
  [bullEntry, createRequire(import.meta.url).resolve('bullmq')].filter((p): p is string => p !== undefined),
);
const out: Record<string, unknown> = {};

try {
  // A redis-server for each side of (1) and (3), so that what is counted on one is that side's alone.
  const corralRedis = await startRedis();
  cleanups.push(() => corralRedis.stop());
  const bullRedis = bull === undefined ? undefined : await startRedis();
  if (bullRedis !== undefined) cleanups.push(() => bullRedis.stop());

  await oneHost(corralRedis, bullRedis);
  await bullRedis?.stop();
  await scaling(corralRedis);

  const fire = await fireOnce(corralRedis);
  console.log(
    `### (4) fire once: 3 hosts, every ${FIRE.intervalSeconds} s, ${IN_FLIGHT} triggered runs in flight\n`,
  );
  const ok = fire.missed.length === 0 && fire.duplicates.length === 0 && fire.unexpected.length === 0;
  table(
    [
      'window s',
      'nominal',
      'expected',
      'fired',
      'missed',
      'twice',
      'late p50 ms',
      'late p99 ms',
      'late max ms',
      'by host',
      'load runs',
    ],
    [
      [
        (fire.windowMs / 1000).toFixed(1),
        fire.nominal,
        fire.expected,
        fire.fired,
        fire.missed.length,
        fire.duplicates.length,
        fire.lateMs.p50.toFixed(0),
        fire.lateMs.p99.toFixed(0),
        fire.lateMs.max.toFixed(0),
        Object.entries(fire.byHost)
          .sort()
          .map(([h, n]) => `${h} ${n}`)
          .join(', '),
        fire.loadRuns,
      ],
    ],
  );
  console.log(
    `each due time fired once: ${ok ? 'met' : 'MISSED'} (from a run's end to the next due time: ` +
      `${fire.gapAfterEndMs.min.toFixed(0)}–${fire.gapAfterEndMs.max.toFixed(0)} ms, median ${fire.gapAfterEndMs.median.toFixed(0)})\n`,
  );
  out.fireOnce = fire;
  save('cluster', out);
} finally {
  await cleanUp();
}
