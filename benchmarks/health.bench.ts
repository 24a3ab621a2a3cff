// Health: what sampling costs the host. 50 process workers, each running a job that only sleeps (the
// child alive and idle), sampled every 200 ms with enableHealthChecks on, against the same with it off;
// interleaved rounds of 5 s of steady state. Host CPU (process.cpuUsage: the main thread and libuv's
// threadpool, where pidusage reads /proc) over the window; cost per sandbox per sample =
// (CPU on − CPU off) / (50 × samples), with samples counted exactly through the orchestrator's clock
// (the sampler is the only user of 200 ms timers). Target: ≤ 50 µs per sandbox per sample. The run also
// checks that getStatus().workerStates[name].resources is filled in when on (and absent when off).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Clock, WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { fmt, header, save, table } from './lib/report.ts';
import { interleave, type Variant } from './lib/rounds.ts';
import { type Summary, summarize } from './lib/stats.ts';

const SANDBOXES = 50;
const SAMPLE_MS = 200;
const WINDOW_MS = Number(process.env.HEALTH_WINDOW_MS ?? 5_000);
/** From sending the runs to the window: the attempts reach their (warm) children, the first sample is in. */
const SETTLE_MS = 600;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const fixture = fileURLToPath(new URL('./fixtures/sleep-long.mjs', import.meta.url));

type Measure = {
  cpuUsPerSec: number;
  samplesPerSec: number;
  populated: number;
  children: number;
};

/** The host's child processes (sandboxes and reapers), from /proc; -1 off Linux. */
function childCount(): number {
  try {
    return readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
      .length;
  } catch {
    return -1;
  }
}

/** File descriptors of this process open on some /proc/<pid>/stat (pidusage keeps one per pid it read). */
function procStatFds(): number {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return /^\/proc\/\d+\/stat$/.test(readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false;
      }
    }).length;
  } catch {
    return -1;
  }
}

function variant(enableHealthChecks: boolean): Variant<Measure> & { orch: WorkerOrchestrator } {
  let samples = 0;
  // The system clock, with the sampler's ticks counted as they fire.
  const clock: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) =>
      setTimeout(
        ms === SAMPLE_MS
          ? () => {
              samples++;
              fn();
            }
          : fn,
        Math.max(0, ms),
      ),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
  const orch = new WorkerOrchestrator({
    logger: false,
    maxConcurrentWorkers: 64,
    enableHealthChecks,
    healthSampleMs: SAMPLE_MS,
    clock,
  });
  const names = Array.from({ length: SANDBOXES }, (_, i) => `sleeper-${i}`);
  let round = 0;
  return {
    name: enableHealthChecks ? 'health checks on' : 'health checks off',
    orch,
    async setup() {
      for (const name of names) {
        orch.registerWorker(name, fixture, {
          executionMode: WorkerExecutionMode.TRIGGERED,
          isolation: 'process',
          execArgv: [], // not the host's --import tsx / --expose-gc: a plain child
          idleTimeoutSeconds: 600, // the children stay up between rounds: no fork inside a round
          timeoutSeconds: 60,
          maxRetries: 0,
        });
      }
      await orch.start();
    },
    async round() {
      // The first round is interleave()'s warm-up: it forks the 50 children (and pidusage spawns its
      // getconf once); only the runs' end matters.
      const warmUp = round++ === 0;
      const payload = { ms: warmUp ? 1_000 : SETTLE_MS + WINDOW_MS + 300 };
      const runs = names.map((name) => orch.run(name, payload));
      if (warmUp) {
        await Promise.all(runs);
        return { cpuUsPerSec: 0, samplesPerSec: 0, populated: 0, children: 0 };
      }
      await sleep(SETTLE_MS);
      const children = childCount();
      const samples0 = samples;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(WINDOW_MS);
      const cpu = process.cpuUsage(cpu0);
      const seconds = (performance.now() - t0) / 1000;
      const samplesInWindow = samples - samples0;
      // Outside the window: is every worker's resources field there, filled in and fresh?
      const states = orch.getStatus().workerStates;
      const now = Date.now();
      const populated = names.filter((name) => {
        const r = states[name]?.resources;
        return r !== undefined && r.memoryBytes > 0 && now - Date.parse(r.sampledAt) < 3 * SAMPLE_MS;
      }).length;
      const present = names.filter((name) => states[name]?.resources !== undefined).length;
      await Promise.all(runs);
      return {
        cpuUsPerSec: (cpu.user + cpu.system) / seconds,
        samplesPerSec: samplesInWindow / seconds,
        populated: enableHealthChecks ? populated : present,
        children,
      };
    },
    async teardown() {
      await orch.stop();
    },
  };
}

header('health: cost of sampling 50 process sandboxes', {
  sandboxes: SANDBOXES,
  healthSampleMs: SAMPLE_MS,
  windowMs: WINDOW_MS,
  rounds: ROUNDS,
});

const loadBefore = loadavg();
const on = variant(true);
const off = variant(false);
const out = await interleave([on, off], ROUNDS);
const rOn = out.get(on.name) as Record<keyof Measure, Summary>;
const rOff = out.get(off.name) as Record<keyof Measure, Summary>;

// Per pair of rounds (on i, off i), and from the medians.
const perPair = rOn.cpuUsPerSec.rounds.map((cpuOn, i) => {
  const cpuOff = rOff.cpuUsPerSec.rounds[i] as number;
  const rate = rOn.samplesPerSec.rounds[i] as number;
  return (cpuOn - cpuOff) / (SANDBOXES * rate);
});
const costMedian =
  (rOn.cpuUsPerSec.median - rOff.cpuUsPerSec.median) / (SANDBOXES * rOn.samplesPerSec.median);
const cost = summarize(perPair);
const leftChildren = childCount();
const leftStatFds = procStatFds();

const pctOfCore = (s: Summary): Summary => ({
  median: s.median / 1e4,
  min: s.min / 1e4,
  max: s.max / 1e4,
  rounds: s.rounds.map((v) => v / 1e4),
});
table(
  ['variant', 'host CPU, % of a core', 'samples/s', 'resources filled (of 50)', 'children up'],
  [on, off].map((v) => {
    const r = v === on ? rOn : rOff;
    return [
      v.name,
      fmt(pctOfCore(r.cpuUsPerSec), 2),
      fmt(r.samplesPerSec, 2),
      `${r.populated.min}–${r.populated.max}`,
      `${r.children.min}–${r.children.max}`,
    ];
  }),
);
table(
  ['cost per sandbox per sample', 'from medians', 'per round pair: median (min–max)', 'target ≤ 50 µs'],
  [['µs of host CPU', costMedian.toFixed(1), fmt(cost, 1), costMedian <= 50 ? 'yes' : '**no**']],
);
const loadAfter = loadavg();
console.log(
  `load average (1 min) before / after: ${loadBefore[0]?.toFixed(2)} / ${loadAfter[0]?.toFixed(2)} ` +
    `(figures are only clean when it stays well under the core count)`,
);
console.log(
  `after stop(): ${leftChildren} child process(es) left, ${leftStatFds} descriptor(s) still open on /proc/<pid>/stat.\n`,
);
save('health', {
  loadAverage: { before: loadBefore, after: loadAfter },
  sandboxes: SANDBOXES,
  healthSampleMs: SAMPLE_MS,
  windowMs: WINDOW_MS,
  on: rOn,
  off: rOff,
  costUsPerSandboxPerSample: { fromMedians: costMedian, perRoundPair: cost },
  afterStop: { children: leftChildren, procStatFds: leftStatFds },
});
if (on.orch.getStatus().state !== 'stopped' || off.orch.getStatus().state !== 'stopped') process.exitCode = 1;
