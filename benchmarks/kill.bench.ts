// Kill: how long after a run's deadline the caller hears of the timeout and the stuck sandbox is gone.
// Cases (timeoutSeconds 0.3, maxRetries 0, one triggered run at a time, interleaved rounds):
//   a. a thread stuck in a synchronous loop                 -> worker.terminate() (piscina pool destroyed)
//   b. a child process stuck in a synchronous loop          -> SIGTERM to its group (killGraceMs default)
//   c. a process tree: child + grandchild, both spinning    -> SIGTERM to the group (killGraceMs default)
//   d. a child that ignores SIGTERM, killGraceMs 0 and 200  -> SIGKILL at once / after the grace
// Per run: deadline = worker:start (the attempt handed to its sandbox) + timeout;
//   settled = the caller's promise rejected (reason 'timeout');
//   gone    = a watcher thread polling /proc every 0.25 ms (lib/gone-watcher.mjs) saw every process of the
//             run dead (no /proc/<pid> or state Z) — for a thread: its tid left /proc/self/task, i.e. the
//             OS thread exited (not a worker_threads resource count);
//   timer   = a plain host setTimeout armed in the worker:start listener with the same timeout: when the
//             host's event loop woke up for the deadline. settled − timer is corral's own work.
// Sandboxes and raw baselines start with execArgv [] (not the runner's `--import tsx`, which would add
// ~300 ms to every cold start and push it past the deadline).
// Baselines, same rounds: raw `worker.terminate()` of a busy thread and raw SIGKILL of a busy forked child
// (t = 0 at the terminate() / kill() call: 'exit' event and gone).
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { GoneWatcher, threadCount, threadIds, type Watch } from './lib/gone.ts';
import { header, save, table } from './lib/report.ts';
import { interleave, type Variant } from './lib/rounds.ts';
import type { Summary } from './lib/stats.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
// Every timed-out sandbox is discarded, so each run cold-starts its child (~70 ms here, but up to ~300 ms
// when the 2-core machine is loaded): a run killed before its fixture ran is not measured but run again.
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 0.3);
const TIMEOUT_NS = BigInt(TIMEOUT_S * 1e9);
const GRACE_MS = 200;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const busy = fixture('busy.mjs');
const busyTree = fixture('busy-tree.mjs');
const ignoreTerm = fixture('ignore-term.mjs');
const rawBusy = fixture('raw-busy.mjs');

const ms = (ns: bigint | number) => Number(ns) / 1e6;
const watcher = new GoneWatcher();
const allPids = new Set<number>();
const misses: Record<string, number> = {};
let fileSeq = 0;

/** Nearest-rank percentile of a summary's samples (p99 of 30 samples is the maximum). */
function pct(summary: Summary, p: number): number {
  const sorted = [...summary.rounds].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Waits for a watch, giving up (and cancelling it) after `limitMs`. */
async function goneWithin(watch: Watch, limitMs: number): Promise<number | null> {
  const timer = sleep(limitMs, 'late' as const);
  const first = await Promise.race([watch.gone, timer]);
  if (first !== 'late') return first;
  watch.cancel();
  return watch.gone;
}

type KillMeasure = { settledMs: number; goneMs: number; timerMs: number; goneAfterGraceMs: number };

interface CaseSpec {
  name: string;
  endedBy: string;
  isolation: 'thread' | 'process';
  file: string;
  killGraceMs?: number;
}

function corralCase(spec: CaseSpec): Variant<KillMeasure> {
  const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: 4 });
  let startNs: bigint | undefined;
  let timerNs: bigint | undefined;
  let control: NodeJS.Timeout | undefined;
  const grace = spec.isolation === 'process' ? (spec.killGraceMs ?? 5000) : 0;
  // The SIGKILL is due only after the grace when SIGTERM cannot end the process.
  const graceCounts = spec.file === ignoreTerm ? grace : 0;

  async function once_(): Promise<KillMeasure | undefined> {
    startNs = undefined;
    timerNs = undefined;
    const pidFile = join(tmpdir(), `corral-kill-${process.pid}-${++fileSeq}.json`);
    const watch = spec.isolation === 'thread' ? watcher.threads(threadIds()) : watcher.pids({ pidFile });
    let settledNs = 0n;
    const payload = spec.isolation === 'process' ? { pidFile } : undefined;
    await orch.run('job', payload).then(
      () => {
        throw new Error(`${spec.name}: the run succeeded; a timeout was expected`);
      },
      (error: { reason?: string }) => {
        settledNs = process.hrtime.bigint();
        if (error.reason !== 'timeout')
          throw new Error(`${spec.name}: reason ${error.reason}, not timeout`, { cause: error });
      },
    );
    // Seen by now, or never: the kill is under way, so a fixture not yet running will not write its pids.
    const seen = await Promise.race([watch.seen.then(() => true), sleep(100, false)]);
    if (!seen) watch.cancel();
    const goneNs = await goneWithin(watch, 3000);
    rmSync(pidFile, { force: true });
    for (const pid of spec.isolation === 'process' ? watch.ids : []) allPids.add(pid);
    if (control !== undefined) clearTimeout(control);
    if (goneNs === null || startNs === undefined || timerNs === undefined) return undefined;
    const deadline = startNs + TIMEOUT_NS;
    return {
      settledMs: ms(settledNs - deadline),
      goneMs: ms(BigInt(goneNs) - deadline),
      timerMs: ms(timerNs - deadline),
      goneAfterGraceMs: ms(BigInt(goneNs) - deadline) - graceCounts,
    };
  }

  return {
    name: spec.name,
    async setup() {
      orch.registerWorker('job', spec.file, {
        executionMode: WorkerExecutionMode.TRIGGERED,
        isolation: spec.isolation,
        timeoutSeconds: TIMEOUT_S,
        maxRetries: 0,
        maxConsecutiveFailures: 1_000_000, // every run fails by design: keep the breaker out of it
        execArgv: [], // not the host's `--import tsx`: a sandbox starts as it would under compiled JS
        ...(spec.killGraceMs === undefined ? {} : { killGraceMs: spec.killGraceMs }),
      });
      orch.on('worker:start', () => {
        startNs = process.hrtime.bigint();
        control = setTimeout(() => {
          timerNs = process.hrtime.bigint();
        }, TIMEOUT_S * 1000);
      });
      await orch.start();
    },
    async round() {
      // A run whose processes the watcher never saw (cold start past the deadline) is run again.
      for (let tries = 0; tries < 10; tries++) {
        const m = await once_();
        if (m !== undefined) return m;
        misses[spec.name] = (misses[spec.name] ?? 0) + 1;
      }
      throw new Error(`${spec.name}: the watcher could not observe the sandbox in 10 tries`);
    },
    async teardown() {
      await orch.stop();
    },
  };
}

type RawMeasure = { exitMs: number; goneMs: number };

function rawThread(): Variant<RawMeasure> {
  return {
    name: 'raw worker.terminate(), busy thread',
    async round() {
      const before = threadIds();
      const worker = new Worker(rawBusy, { execArgv: [] });
      const watch = watcher.threads(before);
      await once(worker, 'message');
      await watch.seen;
      const exited = once(worker, 'exit');
      const t0 = process.hrtime.bigint();
      void worker.terminate();
      await exited;
      const exitNs = process.hrtime.bigint();
      // Seen by now, or never: the kill is under way, so a fixture not yet running will not write its pids.
      const seen = await Promise.race([watch.seen.then(() => true), sleep(100, false)]);
      if (!seen) watch.cancel();
      const goneNs = await goneWithin(watch, 3000);
      if (goneNs === null) throw new Error('raw thread: not seen gone');
      return { exitMs: ms(exitNs - t0), goneMs: ms(BigInt(goneNs) - t0) };
    },
  };
}

function rawFork(): Variant<RawMeasure> {
  return {
    name: 'raw SIGKILL, busy forked child',
    async round() {
      const child: ChildProcess = fork(rawBusy, [], {
        execArgv: [],
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      });
      await once(child, 'message');
      const watch = watcher.pids({ pids: [child.pid as number] });
      allPids.add(child.pid as number);
      await watch.seen;
      const exited = once(child, 'exit');
      const t0 = process.hrtime.bigint();
      child.kill('SIGKILL');
      await exited;
      const exitNs = process.hrtime.bigint();
      // Seen by now, or never: the kill is under way, so a fixture not yet running will not write its pids.
      const seen = await Promise.race([watch.seen.then(() => true), sleep(100, false)]);
      if (!seen) watch.cancel();
      const goneNs = await goneWithin(watch, 3000);
      if (goneNs === null) throw new Error('raw fork: not seen gone');
      return { exitMs: ms(exitNs - t0), goneMs: ms(BigInt(goneNs) - t0) };
    },
  };
}

/** Live (non-zombie) processes among `pids`. */
function stillAlive(pids: Iterable<number>): number[] {
  return [...pids].filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  });
}

const cases: CaseSpec[] = [
  { name: 'a. busy thread', endedBy: 'thread terminate()', isolation: 'thread', file: busy },
  { name: 'b. busy process', endedBy: 'SIGTERM (killGraceMs 5000)', isolation: 'process', file: busy },
  {
    name: 'c. process tree (child + grandchild)',
    endedBy: 'SIGTERM to group (killGraceMs 5000)',
    isolation: 'process',
    file: busyTree,
  },
  {
    name: 'd. ignores SIGTERM, killGraceMs 0',
    endedBy: 'SIGKILL at once',
    isolation: 'process',
    file: ignoreTerm,
    killGraceMs: 0,
  },
  {
    name: `d. ignores SIGTERM, killGraceMs ${GRACE_MS}`,
    endedBy: `SIGTERM, SIGKILL after ${GRACE_MS} ms`,
    isolation: 'process',
    file: ignoreTerm,
    killGraceMs: GRACE_MS,
  },
];

header('kill: deadline → caller told, sandbox gone', {
  timeoutSeconds: TIMEOUT_S,
  runs: RUNS,
  maxRetries: 0,
  watcherPollMs: 0.25,
});
await watcher.ready;
await stat('.'); // starts libuv's thread pool now, so that it is not taken for a worker thread later
await sleep(50);
const threadsBefore = threadCount();
const corralVariants = cases.map(corralCase);
const raw = [rawThread(), rawFork()] as const;
const out = await interleave<KillMeasure | RawMeasure>(
  [
    ...(corralVariants as Variant<KillMeasure | RawMeasure>[]),
    ...(raw as unknown as Variant<KillMeasure | RawMeasure>[]),
  ],
  RUNS,
);
await sleep(100);
const threadsAfter = threadCount();
await sleep(500); // tree-kill / group polling of the last kills finish
const leftovers = stillAlive(allPids);
await watcher.close();

const f = (n: number) => n.toFixed(1);
const rows: string[][] = [];
const results: Record<string, unknown> = {};
const verdicts: string[][] = [];
const check = (target: string, value: number, limit: number) =>
  verdicts.push([
    target,
    `${f(value)} ms`,
    `≤ ${limit} ms`,
    value <= limit ? 'met' : `missed by ${f(value - limit)} ms`,
  ]);
for (const spec of cases) {
  const r = out.get(spec.name) as Record<keyof KillMeasure, Summary> | undefined;
  if (r === undefined) continue;
  results[spec.name] = { endedBy: spec.endedBy, ...r };
  rows.push([
    spec.name,
    spec.endedBy,
    String(r.settledMs.rounds.length),
    f(r.settledMs.median),
    f(pct(r.settledMs, 99)),
    f(r.goneMs.median),
    f(pct(r.goneMs, 99)),
    f(r.timerMs.median),
    f(pct(r.timerMs, 99)),
  ]);
  check(`${spec.name}: promise settled p50`, r.settledMs.median, 5);
  check(`${spec.name}: promise settled p99`, pct(r.settledMs, 99), 15);
  if (spec.isolation === 'thread') check(`${spec.name}: thread gone p50`, r.goneMs.median, 20);
  else if (spec.file === ignoreTerm && (spec.killGraceMs ?? 0) > 0)
    check(`${spec.name}: gone after deadline + grace, p50`, r.goneAfterGraceMs.median, 10);
  else check(`${spec.name}: child gone p50`, r.goneMs.median, 10);
}
console.log('ms after the deadline (deadline = worker:start + timeout); p99 of 30 runs is the maximum\n');
table(
  [
    'case',
    'ended by',
    'runs',
    'promise settled p50',
    'p99',
    'gone p50',
    'p99',
    'host timer fired p50',
    'p99',
  ],
  rows,
);
const rawRows: string[][] = [];
for (const v of raw) {
  const r = out.get(v.name) as Record<keyof RawMeasure, Summary> | undefined;
  if (r === undefined) continue;
  results[v.name] = r;
  rawRows.push([
    v.name,
    String(r.exitMs.rounds.length),
    f(r.exitMs.median),
    f(pct(r.exitMs, 99)),
    f(r.goneMs.median),
    f(pct(r.goneMs, 99)),
  ]);
}
console.log('baselines: ms after the terminate() / kill() call\n');
table(['baseline', 'runs', "'exit' event p50", 'p99', 'gone p50', 'p99'], rawRows);
table(['target', 'measured', 'target', 'verdict'], verdicts);
console.log(
  `host OS threads: ${threadsBefore} before, ${threadsAfter} after · runs killed before their fixture ran (not measured, run again): ${JSON.stringify(misses)} · processes left alive: ${leftovers.length === 0 ? 'none' : leftovers.join(', ')}`,
);
save('kill', {
  options: { timeoutSeconds: TIMEOUT_S, runs: RUNS, graceMs: GRACE_MS, watcherPollMs: 0.25 },
  results,
  verdicts,
  threadsBefore,
  threadsAfter,
  misses,
  leftovers,
});
