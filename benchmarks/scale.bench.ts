// Scale: what many workers cost when they do nothing, and how well a busy schedule keeps time.
// (a) 100,000 idle SCHEDULED inline workers sharing one function object — cron workers on a far-future
//     pattern, then interval workers on a 1-day interval (which run once at start(): measured after those
//     first runs have ended): time to register, time to start(), heap bytes per worker (gc'd heapUsed
//     delta; the names are allocated before the baseline, they are the caller's), and the host's CPU
//     while idle over 10 s (process.cpuUsage, % of one core; also the main thread's own share from
//     /proc/self/task, where the scheduler runs). Targets: < 2 KB per worker, < 1 % of a core.
//     A control comes first: the same 10 s with an orchestrator that has no worker. It shows the floor of
//     this process (tsx's module-hooks thread and V8's helper threads have work of their own: the hooks
//     thread's memory-reducer GCs land a few seconds after launch, i.e. in this first window).
// (b) 1,000 inline no-op workers on 100 ms intervals for 10 s (64 slots): scheduling lag = start time
//     − due time, where due = the previous run's end (as the orchestrator sees it: worker:success is
//     emitted just before the run is recorded as ended) + 100 ms, since the interval is a fixed delay
//     after the run ended. Lag p50/p99/max (ms, Date.now() resolution, as the scheduler's own clock),
//     runs/s achieved vs the ideal, host CPU, and the same lag for plain setTimeout chains as the floor.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerOrchestrator } from 'corral';
import { fmt, header, save, table } from './lib/report.ts';
import { Latency, type Summary, summarize } from './lib/stats.ts';

const WORKERS = Number(process.env.SCALE_WORKERS ?? 100_000);
const IDLE_WINDOWS = 10; // 1 s each
const CADENCE_WORKERS = 1_000;
const CADENCE_INTERVAL_MS = 100;
const CADENCE_WARMUP_MS = 1_000;
const CADENCE_MS = Number(process.env.SCALE_CADENCE_MS ?? 10_000);
const FLOOR_MS = 5_000;
const SLOTS = 64;

const gc = globalThis.gc;
if (gc === undefined) throw new Error('run with --expose-gc (npm run bench does)');

/** heapUsed after full collections (twice, with a turn of the event loop between, to let finalizers run). */
async function settledHeap(): Promise<number> {
  gc?.();
  await sleep(10);
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** CPU time of the main thread (utime + stime) in ms, from /proc (10 ms ticks); undefined off Linux. */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // CLK_TCK is 100 on Linux
  } catch {
    return undefined;
  }
}

/** The host's CPU, in % of one core, over `windows` windows of 1 s. */
async function idleCpu(windows: number): Promise<{ total: number; perSecond: Summary; mainThread?: number }> {
  const perSecond: number[] = [];
  const main0 = mainThreadCpuMs();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let w = 0; w < windows; w++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(1000);
    const c = process.cpuUsage(c0);
    perSecond.push(((c.user + c.system) / ((performance.now() - w0) * 1000)) * 100);
  }
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  const main1 = mainThreadCpuMs();
  const out: { total: number; perSecond: Summary; mainThread?: number } = {
    total: ((cpu.user + cpu.system) / (wallMs * 1000)) * 100,
    perSecond: summarize(perSecond),
  };
  if (main0 !== undefined && main1 !== undefined) out.mainThread = ((main1 - main0) / wallMs) * 100;
  return out;
}

// ---------------------------------------------------------------- (a) idle workers

type IdleResult = {
  registerMs: number;
  startMs: number;
  firstRunsMs: number | undefined;
  bytesPerWorkerRegistered: number;
  bytesPerWorkerIdle: number;
  idleCpu: { total: number; perSecond: Summary; mainThread?: number };
};

const names = Array.from({ length: WORKERS }, (_, i) => `w${i}`);

async function idle(kind: 'cron' | 'interval'): Promise<IdleResult> {
  let ran = 0;
  const job = (): void => {
    ran++;
  };
  const options = kind === 'cron' ? { cron: '0 0 1 1 *' } : { intervalSeconds: 86_400 };
  const heap0 = await settledHeap();

  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: SLOTS });
  let t0 = performance.now();
  for (const name of names) orch.registerWorker(name, job, options);
  const registerMs = performance.now() - t0;
  const heapRegistered = await settledHeap();

  t0 = performance.now();
  await orch.start();
  const startMs = performance.now() - t0;

  let firstRunsMs: number | undefined;
  if (kind === 'interval') {
    // Every interval worker is due at start(): wait for those runs to end (then they are idle for a day).
    while (ran < WORKERS) await sleep(5);
    while (orch.getStatus().running > 0) await sleep(5);
    firstRunsMs = performance.now() - t0;
  } else if (ran !== 0) {
    throw new Error(`a cron worker ran (${ran})`);
  }
  const heapIdle = await settledHeap();

  // Idle: nothing is due for a day (interval) or until next January (cron).
  const idleCpuFigures = await idleCpu(IDLE_WINDOWS);
  const expectedRuns = kind === 'interval' ? WORKERS : 0;
  if (ran !== expectedRuns) throw new Error(`${kind}: ${ran} runs while idle, expected ${expectedRuns}`);
  await orch.stop();

  return {
    registerMs,
    startMs,
    firstRunsMs,
    bytesPerWorkerRegistered: (heapRegistered - heap0) / WORKERS,
    bytesPerWorkerIdle: (heapIdle - heap0) / WORKERS,
    idleCpu: idleCpuFigures,
  };
}

// ---------------------------------------------------------------- (b) a busy schedule

type CadenceResult = {
  runs: number;
  runsPerSec: number;
  idealRunsPerSec: number;
  lagP50ms: number;
  lagP99ms: number;
  lagMaxms: number;
  lagNegative: number;
  meanRunMs: number;
  hostCpuPercent: number;
  hostCpuUsPerRun: number;
  /** Heap per worker after the window (each has run ~100 times), the orchestrator's whole share. */
  heapBytesPerWorkerBusy: number;
  /** Heap per worker added during the window. */
  heapBytesPerWorkerGrowth: number;
  /** Run records the orchestrator keeps for one worker (getHistory), if it keeps any. */
  historyPerWorker: number | undefined;
};

function lagFigures(lag: Latency): { p50: number; p99: number; max: number } {
  return {
    p50: lag.percentileUs(50) / 1000,
    p99: lag.percentileUs(99) / 1000,
    max: lag.percentileUs(100) / 1000,
  };
}

async function cadence(): Promise<CadenceResult> {
  const index = new Map<string, number>();
  const lastEnd = new Float64Array(CADENCE_WORKERS); // 0: no run has ended yet
  const lastStart = new Float64Array(CADENCE_WORKERS);
  const lag = new Latency();
  let measuring = false;
  let runs = 0;
  let negative = 0;
  let runMsSum = 0;
  let ended = 0;
  const names = Array.from({ length: CADENCE_WORKERS }, (_, i) => `c${i}`);
  for (const [i, name] of names.entries()) index.set(name, i);
  const heap0 = await settledHeap();
  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: SLOTS });
  // One function for all, as in (a): the worker's name says which one is running.
  const job = (ctx: { name: string }): void => {
    const now = Date.now();
    const i = index.get(ctx.name) as number;
    lastStart[i] = now;
    if (!measuring) return;
    runs++;
    const end = lastEnd[i] as number;
    if (end === 0) return;
    const late = now - (end + CADENCE_INTERVAL_MS);
    if (late < 0) negative++;
    lag.recordMs(Math.max(0, late));
  };
  orch.on('worker:success', ({ name }) => {
    const i = index.get(name) as number;
    const now = Date.now();
    lastEnd[i] = now;
    if (measuring) {
      runMsSum += now - (lastStart[i] as number);
      ended++;
    }
  });
  for (const name of names) {
    orch.registerWorker(name, job, { intervalSeconds: CADENCE_INTERVAL_MS / 1000, maxRetries: 0 });
  }
  await orch.start();
  await sleep(CADENCE_WARMUP_MS);
  const heapBefore = await settledHeap();
  await sleep(300); // the runs that the collection held up start late: not part of the measure

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await sleep(CADENCE_MS);
  measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const heapAfter = await settledHeap();
  const history = (orch as { getHistory?: (name: string) => unknown[] }).getHistory?.('c0').length;
  await orch.stop();

  const meanRunMs = ended === 0 ? 0 : runMsSum / ended;
  const { p50, p99, max } = lagFigures(lag);
  return {
    runs,
    runsPerSec: runs / (elapsedMs / 1000),
    idealRunsPerSec: CADENCE_WORKERS / ((CADENCE_INTERVAL_MS + meanRunMs) / 1000),
    lagP50ms: p50,
    lagP99ms: p99,
    lagMaxms: max,
    lagNegative: negative,
    meanRunMs,
    hostCpuPercent: ((cpu.user + cpu.system) / (elapsedMs * 1000)) * 100,
    hostCpuUsPerRun: (cpu.user + cpu.system) / Math.max(1, runs),
    heapBytesPerWorkerBusy: (heapAfter - heap0) / CADENCE_WORKERS,
    heapBytesPerWorkerGrowth: (heapAfter - heapBefore) / CADENCE_WORKERS,
    historyPerWorker: history,
  };
}

/** The floor: the same pattern with plain timers (each re-armed 100 ms after its callback ran). */
async function timerFloor(): Promise<{ p50: number; p99: number; max: number; runsPerSec: number }> {
  const lag = new Latency();
  let measuring = false;
  let stopped = false;
  let runs = 0;
  const timers = new Set<NodeJS.Timeout>();
  const arm = (): void => {
    const due = Date.now() + CADENCE_INTERVAL_MS;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (measuring) {
        runs++;
        lag.recordMs(Math.max(0, Date.now() - due));
      }
      if (!stopped) arm();
    }, CADENCE_INTERVAL_MS);
    timers.add(timer);
  };
  for (let i = 0; i < CADENCE_WORKERS; i++) arm();
  await sleep(CADENCE_WARMUP_MS);
  measuring = true;
  const t0 = performance.now();
  await sleep(FLOOR_MS);
  measuring = false;
  const elapsed = performance.now() - t0;
  stopped = true;
  for (const timer of timers) clearTimeout(timer);
  return { ...lagFigures(lag), runsPerSec: runs / (elapsed / 1000) };
}

// ---------------------------------------------------------------- report

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
const pct = (n: number | undefined) => (n === undefined ? '—' : `${n.toFixed(2)} %`);
const pass = (ok: boolean) => (ok ? 'yes' : '**no**');

header('scale: 100,000 idle workers, 1,000 busy ones', {
  idleWorkers: WORKERS,
  cadenceWorkers: CADENCE_WORKERS,
  intervalMs: CADENCE_INTERVAL_MS,
  slots: SLOTS,
});

const loadBefore = loadavg();
// The control: an orchestrator with no worker, started, same 10 s.
const empty = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: SLOTS });
await empty.start();
const control = await idleCpu(IDLE_WINDOWS);
await empty.stop();

const cron = await idle('cron');
const interval = await idle('interval');
const rows: (string | number)[][] = [
  [
    'control: no worker',
    '—',
    '—',
    '—',
    '—',
    '—',
    `${pct(control.total)} (${fmt(control.perSecond, 2)})`,
    pct(control.mainThread),
    '',
  ],
];
for (const [label, r] of [
  ["cron '0 0 1 1 *'", cron],
  ['interval 86400 s, after its first runs', interval],
] as const) {
  rows.push([
    label,
    r.registerMs.toFixed(0),
    r.startMs.toFixed(0),
    r.firstRunsMs === undefined ? '—' : r.firstRunsMs.toFixed(0),
    kib(r.bytesPerWorkerRegistered),
    kib(r.bytesPerWorkerIdle),
    `${pct(r.idleCpu.total)} (${fmt(r.idleCpu.perSecond, 2)})`,
    pct(r.idleCpu.mainThread),
    pass(r.bytesPerWorkerIdle < 2048 && r.idleCpu.total < 1),
  ]);
}
console.log(`### (a) ${WORKERS.toLocaleString('en-US')} idle scheduled inline workers\n`);
table(
  [
    'workers',
    'register ms',
    'start() ms',
    'first runs done ms',
    'heap/worker registered',
    'heap/worker idle',
    'idle CPU 10 s, process (1 s windows)',
    'idle CPU, main thread',
    'targets (< 2 KiB, < 1 %)',
  ],
  rows,
);

const busy = await cadence();
const floor = await timerFloor();
console.log(
  `### (b) ${CADENCE_WORKERS.toLocaleString('en-US')} workers every ${CADENCE_INTERVAL_MS} ms, ${SLOTS} slots, ${CADENCE_MS / 1000} s\n`,
);
table(
  ['variant', 'runs/s (ideal)', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'host CPU', 'host CPU µs/run'],
  [
    [
      'corral interval workers',
      `${busy.runsPerSec.toFixed(0)} (${busy.idealRunsPerSec.toFixed(0)})`,
      busy.lagP50ms.toFixed(1),
      busy.lagP99ms.toFixed(1),
      busy.lagMaxms.toFixed(1),
      `${busy.hostCpuPercent.toFixed(1)} %`,
      busy.hostCpuUsPerRun.toFixed(1),
    ],
    [
      'plain setTimeout chains (floor)',
      `${floor.runsPerSec.toFixed(0)} (${(CADENCE_WORKERS / (CADENCE_INTERVAL_MS / 1000)).toFixed(0)})`,
      floor.p50.toFixed(1),
      floor.p99.toFixed(1),
      floor.max.toFixed(1),
      '',
      '',
    ],
  ],
);
console.log(
  `corral: ${busy.runs} runs measured, mean run ${busy.meanRunMs.toFixed(2)} ms (start → end as seen by the ` +
    `orchestrator), ${busy.lagNegative} run(s) started before their due ms (counted as 0). Heap per ` +
    `worker after the window: ${kib(busy.heapBytesPerWorkerBusy)} (${kib(busy.heapBytesPerWorkerGrowth)} ` +
    `of it added during the window; run records kept per worker: ${busy.historyPerWorker ?? '—'}).\n`,
);

const loadAfter = loadavg();
console.log(
  `load average (1 min) before / after: ${loadBefore[0]?.toFixed(2)} / ${loadAfter[0]?.toFixed(2)} ` +
    `(figures are only clean when it stays well under the core count)\n`,
);
save('scale', {
  loadAverage: { before: loadBefore, after: loadAfter },
  control,
  idle: { cron, interval },
  cadence: busy,
  timerFloor: floor,
});
