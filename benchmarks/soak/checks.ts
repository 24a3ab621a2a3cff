// The soak's checks: the host monitored while the load runs (RSS, event-loop delay and its worst gap),
// what is left after stop() (orphan processes, threads), the caps, the chaos coverage, and the verdict of
// each check with its bound.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FailureReason, StopReport } from 'corral';
import type { Accounting, Ledger, Outcome } from './accounting.ts';
import { type ProcInfo, procThreads } from './proc.ts';
import { mb, median } from './util.ts';
import type { Spec } from './workers.ts';

// Threads Node may add on its own after the baseline: none, since libuv's pool (fs, crypto) is started
// before it and V8's platform threads exist from the start; one leaked sandbox thread is +1, so 0 it is.
export const THREAD_ALLOWANCE = 0;
/**
 * Host RSS growth, from the median of minute 2 (minute 1 is warm-up: threads and processes started,
 * code compiled, heap grown) to the median of the last minute: ≤ +10 %. Runs under 3 minutes compare
 * the first and last thirds, whose first third is still warm-up: ≤ max(+50 %, +100 MB) there.
 */
const RSS_MAX_GROWTH_RATIO = 0.1;
const SHORT_RUN_SECONDS = 180;
const SHORT_RSS_MAX_GROWTH_RATIO = 0.5;
const SHORT_RSS_MAX_GROWTH_MB = 100;

function smapsRollup(): { anon: number; privateDirty: number } {
  const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { anon: kb('Anonymous') * 1024, privateDirty: kb('Private_Dirty') * 1024 };
}

/**
 * Watches the host while the load runs: RSS every second, the event-loop delay, and the worst event-loop
 * gap with the main thread's time on a CPU and waiting for one (run queue) during it, from
 * /proc/self/task/<pid>/schedstat: tells a blocked loop (on CPU) from a starved machine (waiting).
 * SOAK_GAPS=1 prints every gap over 150 ms.
 */
export class HostMonitor {
  readonly eld = monitorEventLoopDelay({ resolution: 10 });
  /** Every second: RSS, its anonymous part (native memory and heaps), the JS heap, external, threads. */
  readonly rss: {
    t: number;
    bytes: number;
    anon: number;
    heap: number;
    external: number;
    threads: number;
  }[] = [];
  /** The longest gap between two ticks of the loop (wall time), and the gap with the most time on CPU. */
  readonly worstGap = { ms: 0, at: 0, cpuMs: 0, waitMs: 0 };
  readonly worstCpuGap = { ms: 0, at: 0, cpuMs: 0, waitMs: 0 };
  #rssTimer: NodeJS.Timeout | undefined;
  #gapTimer: NodeJS.Timeout | undefined;

  /** The event-loop delay is measured from now (before the baseline), the rest from start(). */
  constructor() {
    this.eld.enable();
  }

  start(startedAt: number): void {
    this.#rssTimer = setInterval(() => {
      const m = process.memoryUsage();
      this.rss.push({
        t: performance.now() - startedAt,
        bytes: m.rss,
        anon: smapsRollup().anon,
        heap: m.heapUsed,
        external: m.external,
        threads: procThreads(),
      });
    }, 1000);
    const schedstat = () =>
      readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    let lastTick = performance.now();
    let lastSched = schedstat();
    const printGaps = process.env.SOAK_GAPS !== undefined && process.env.SOAK_GAPS !== '';
    this.#gapTimer = setInterval(() => {
      const now = performance.now();
      const sched = schedstat();
      const gap = now - lastTick;
      const cpuMs = ((sched[0] as number) - (lastSched[0] as number)) / 1e6;
      if (gap > this.worstGap.ms || cpuMs > this.worstCpuGap.cpuMs || (printGaps && gap > 150)) {
        const waitMs = ((sched[1] as number) - (lastSched[1] as number)) / 1e6;
        const at = (now - startedAt) / 1000;
        if (gap > this.worstGap.ms) Object.assign(this.worstGap, { ms: gap, at, cpuMs, waitMs });
        if (cpuMs > this.worstCpuGap.cpuMs) Object.assign(this.worstCpuGap, { ms: gap, at, cpuMs, waitMs });
        if (printGaps && gap > 150) {
          console.log(
            `  gap ${Math.round(gap)} ms at t=${at.toFixed(1)}s: on cpu ${Math.round(cpuMs)} ms, run-queue wait ${Math.round(waitMs)} ms`,
          );
        }
      }
      lastTick = now;
      lastSched = sched;
    }, 20);
  }

  /** Stops the RSS samples (at stop()). */
  stopSampling(): void {
    clearInterval(this.#rssTimer);
  }

  /** Stops the event-loop measures (once stop() resolved). */
  stop(): void {
    clearInterval(this.#gapTimer);
    this.eld.disable();
  }

  /** Host RSS: median of minute 2 vs the last minute (thirds for runs under 3 minutes). */
  rssFigures(loadSeconds: number) {
    const short = loadSeconds < SHORT_RUN_SECONDS;
    const window = short ? loadSeconds / 3 : 60;
    const firstFrom = short ? 0 : 60;
    const firstSamples = this.rss.filter(
      (s) => s.t >= firstFrom * 1000 && s.t <= (firstFrom + window) * 1000,
    );
    const lastSamples = this.rss.filter((s) => s.t >= (loadSeconds - window) * 1000);
    const firstRss = median(firstSamples.map((s) => s.bytes));
    const lastRss = median(lastSamples.map((s) => s.bytes));
    const medians = (key: 'anon' | 'heap' | 'external') =>
      `${mb(median(firstSamples.map((s) => s[key])))} → ${mb(median(lastSamples.map((s) => s[key])))} MB`;
    const threads = this.rss.map((s) => s.threads);
    const heapFigures =
      `anonymous ${medians('anon')}, heapUsed ${medians('heap')}, external ${medians('external')}; ` +
      `threads ${Math.min(...threads)}–${Math.max(...threads)}`;
    const rssGrowth = lastRss - firstRss;
    const rssBound = short
      ? Math.max(SHORT_RSS_MAX_GROWTH_RATIO * firstRss, SHORT_RSS_MAX_GROWTH_MB * 1048576)
      : RSS_MAX_GROWTH_RATIO * firstRss;
    const rssBoundText = short
      ? `≤ max(+${SHORT_RSS_MAX_GROWTH_RATIO * 100} %, +${SHORT_RSS_MAX_GROWTH_MB} MB) = +${mb(rssBound)} MB`
      : `≤ +${RSS_MAX_GROWTH_RATIO * 100} % = +${mb(rssBound)} MB`;
    const windows = short
      ? `medians of the first/last ${Math.round(window)} s`
      : 'medians of minute 2 and the last minute';
    return {
      window,
      windows,
      firstRss,
      lastRss,
      heapFigures,
      rssGrowth,
      rssBound,
      rssBoundText,
      rssOk: rssGrowth <= rssBound,
    };
  }
}

/** What the chaos did not produce: a failure reason in an isolation, a breaker transition, a cancel. */
export function chaosGaps(ledger: Ledger, count: Map<Outcome, number>, minutes: number): string[] {
  const { attemptFailures, breakerOpened, breakerClosed } = ledger;
  const n = (o: Outcome) => count.get(o) ?? 0;
  const reasons: FailureReason[] = ['error', 'timeout', 'crash', 'memory', 'stalled'];
  const missingCoverage: string[] = [];
  for (const iso of ['thread', 'process'] as const) {
    for (const reason of reasons)
      if (!attemptFailures.get(`${iso}|${reason}`)) missingCoverage.push(`${iso}/${reason}`);
  }
  for (const reason of ['error', 'timeout', 'stalled'] as const) {
    if (!attemptFailures.get(`inline|${reason}`)) missingCoverage.push(`inline/${reason}`);
  }
  const opened = [...breakerOpened.values()].reduce((a, b) => a + b, 0);
  const closed = [...breakerClosed.values()].reduce((a, b) => a + b, 0);
  if (opened === 0) missingCoverage.push('a breaker opening');
  if (closed === 0) missingCoverage.push('a breaker closing after its half-open trial');
  if (n('succeeded') === 0) missingCoverage.push('a successful submission');
  if (n('cancelled by caller') === 0 && minutes >= 0.5) missingCoverage.push('a run cancelled by its caller');
  return missingCoverage;
}

/** Attempts in flight above maxConcurrentWorkers, and workers above their concurrency. */
export function capViolations(ledger: Ledger, specs: Spec[], maxConcurrent: number): number {
  const specByName = new Map(specs.map((s) => [s.name, s]));
  let violations = 0;
  if (ledger.maxInFlight > maxConcurrent) violations++;
  for (const [name, max] of ledger.maxInFlightByWorker) {
    if (max > (specByName.get(name)?.options.concurrency ?? 1)) violations++;
  }
  return violations;
}

export interface Check {
  name: string;
  value: string;
  bound: string;
  ok: boolean;
}

/** Everything the checks read. */
export interface Figures extends ReturnType<HostMonitor['rssFigures']> {
  n: (outcome: Outcome) => number;
  accountedSum: Accounting['accountedSum'];
  terminatedTriggered: number;
  stopFigure: number;
  submitted: number;
  problems: number;
  report: StopReport;
  maxInFlight: number;
  maxConcurrent: number;
  capViolations: number;
  leftRightAfterStop: ProcInfo[];
  leftAfter: ProcInfo[];
  threadsBefore: number;
  threadsRightAfterStop: number;
  threadsAfter: number;
  eldMaxMs: number;
  eldP99Ms: number;
  eldMaxBoundMs: number;
  worstGap: HostMonitor['worstGap'];
  worstCpuGap: HostMonitor['worstCpuGap'];
  maxBlockingMs: number;
  missingCoverage: string[];
}

export function checks(f: Figures): Check[] {
  return [
    {
      name: 'accounting',
      value: `${f.n('succeeded')} ok + ${f.n('dead-lettered')} dead + ${f.n('refused: queue full') + f.n('refused: disabled')} refused + ${f.n('cancelled by caller')} cancelled + ${f.n('aborted by stop')} aborted = ${f.accountedSum} of ${f.submitted}`,
      bound: 'sum = submitted, 0 pending, 0 problems',
      ok:
        f.accountedSum === f.submitted && f.n('pending') === 0 && f.n('unexpected') === 0 && f.problems === 0,
    },
    {
      name: 'stop report',
      value: `aborted by stop ${f.n('aborted by stop')}; dropped ${f.report.dropped} + terminated(triggered) ${f.terminatedTriggered} = ${f.stopFigure}`,
      bound: 'equal',
      ok: f.n('aborted by stop') === f.stopFigure,
    },
    {
      name: 'concurrency caps',
      value: `max attempts in flight ${f.maxInFlight}; per-worker violations ${f.capViolations - (f.maxInFlight > f.maxConcurrent ? 1 : 0)}`,
      bound: `≤ ${f.maxConcurrent}; ≤ concurrency`,
      ok: f.capViolations === 0,
    },
    {
      name: 'orphans',
      value: `${f.leftRightAfterStop.length} right after stop(), ${f.leftAfter.length} 2 s later`,
      bound: '0 when stop() resolves',
      ok: f.leftRightAfterStop.length === 0,
    },
    {
      name: 'threads',
      value: `${f.threadsBefore} before, ${f.threadsRightAfterStop} right after stop(), ${f.threadsAfter} after ≤ 2 s`,
      bound: `≤ before + ${THREAD_ALLOWANCE} when stop() resolves`,
      ok: f.threadsRightAfterStop <= f.threadsBefore + THREAD_ALLOWANCE,
    },
    {
      name: 'host rss',
      value: `${mb(f.firstRss)} → ${mb(f.lastRss)} MB (${f.rssGrowth >= 0 ? '+' : ''}${mb(f.rssGrowth)} MB, ${((f.rssGrowth / f.firstRss) * 100).toFixed(1)} %; ${f.windows}; ${f.heapFigures})`,
      bound: f.rssBoundText,
      ok: f.rssOk,
    },
    {
      name: 'event loop delay',
      value:
        `max ${f.eldMaxMs.toFixed(1)} ms, p99 ${f.eldP99Ms.toFixed(1)} ms; worst gap ${Math.round(f.worstGap.ms)} ms at ` +
        `t=${f.worstGap.at.toFixed(1)}s (main thread on CPU ${Math.round(f.worstGap.cpuMs)} ms, waiting for a CPU ${Math.round(f.worstGap.waitMs)} ms)`,
      bound: `max ≤ ${f.eldMaxBoundMs} ms`,
      ok: f.eldMaxMs <= f.eldMaxBoundMs,
    },
    {
      // The host's own blocking: the main thread's time on a CPU within one gap of its event loop (a gap
      // spent waiting for a CPU is the machine's load, not the host's doing).
      name: 'event loop blocking',
      value: `${Math.round(f.worstCpuGap.cpuMs)} ms on CPU in a gap of ${Math.round(f.worstCpuGap.ms)} ms at t=${f.worstCpuGap.at.toFixed(1)}s (waiting for a CPU ${Math.round(f.worstCpuGap.waitMs)} ms)`,
      bound: `< ${f.maxBlockingMs} ms`,
      ok: f.worstCpuGap.cpuMs < f.maxBlockingMs,
    },
    {
      name: 'chaos coverage',
      value:
        f.missingCoverage.length === 0
          ? 'all reasons in thread/process (+inline), breakers opened and closed'
          : `missing: ${f.missingCoverage.join(', ')}`,
      bound: 'nothing missing',
      ok: f.missingCoverage.length === 0,
    },
  ];
}
