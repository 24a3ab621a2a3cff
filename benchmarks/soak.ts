// Chaos soak: `npm run soak -- --minutes N [--rate R] [--seed S] [--nice K]` (N may be fractional, e.g. 0.5;
// K: nice value of spinning chaos child processes, default 10, 0 to leave them at the host's priority).
//
// One orchestrator runs workers over all three isolations for N minutes: TRIGGERED chaos workers fed by a
// steady load generator (run() and triggerWorker() with payloads that carry a unique submission id, a
// few run()s cancelled by their caller's signal), SCHEDULED chaos workers (every 0.5–0.8 s) and
// CONTINUOUS ones, all running benchmarks/fixtures/chaos.mjs (succeed, throw, exit, uncaught, hang,
// leak, stop heartbeating, ignore SIGTERM, spawn a grandchild, ...). Retries, breakers with short
// cooldowns, small timeouts and queues, and a global cap low enough that queues form. Then stop() —
// while the load is still flowing — and check:
//   accounting  every submission accounted for exactly once: succeeded | dead-lettered (a dead letter
//               with its id, same reason and attempts) | refused at submit (ERR_QUEUE_FULL, or
//               ERR_WORKER_DISABLED / triggerWorker false) | cancelled by its caller | aborted by stop();
//               the aborted ones equal StopReport.dropped + the terminated runs of triggered workers;
//               nothing pending; no dead letter or success event without a submission; dead-letter
//               queue empty at the end (the soak removes each entry it has accounted for)
//   caps        attempts in flight never above maxConcurrentWorkers, nor per worker above concurrency
//   orphans     no process left whose ancestry leads here (less tsx's esbuild service), nor any process
//               carrying this soak's tag (grandchildren re-parented away from us)
//   threads     Threads: in /proc/self/status back to its value before the orchestrator started
//   rss         host RSS, median of the first vs the last minute (thirds for runs under 2 minutes),
//               sampled every second: growth ≤ max(+50 %, +100 MB)
//   event loop  max delay of the host's event loop (monitorEventLoopDelay) ≤ 1000 ms
//   coverage    the chaos really happened: every failure reason seen in threads and processes, breakers
//               opened and closed again, runs cancelled by their caller
// Exit code 1 if any check fails. It imports the built package, and builds it first if dist/ is stale.
// `--inject lost-dead-letter|orphan|thread` plants a fault to show that the checks catch it (exit 1).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type {
  FailureReason,
  WorkerOrchestrator as Orchestrator,
  RunError,
  StopReport,
  WorkerOptions,
} from 'corral';

// ------------------------------------------------------------------------------------------ arguments

function argValue(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return undefined;
  const arg = argv[i] as string;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[i + 1];
}

const MINUTES = Number(argValue('minutes') ?? 1);
const RATE = Number(argValue('rate') ?? 20); // submissions per second
// --inject lost-dead-letter|orphan|thread: plant a fault the checks must catch (the soak must then FAIL).
const INJECT = argValue('inject');
const NICE = Number(argValue('nice') ?? 10); // CPU priority of spinning chaos children (0: unchanged)
const SEED = Number(argValue('seed') ?? Date.now() % 1_000_000) >>> 0;
if (!(MINUTES > 0) || !(RATE > 0)) {
  console.error(
    'usage: npm run soak -- --minutes N [--rate R] [--seed S] [--nice K]   (N > 0, may be fractional)',
  );
  process.exit(2);
}

// Bounds of the checks (stated in the summary).
const MAX_CONCURRENT = 5;
const STORM_EVERY_MS = 6000;
const STORM_MS = 2500;
const SHUTDOWN_TIMEOUT_MS = 400; // short: attempts still in flight at stop() are terminated
// Threads Node may add on its own after the baseline: none, since libuv's pool (fs, crypto) is started
// before it and V8's platform threads exist from the start; one leaked sandbox thread is +1, so 0 it is.
const THREAD_ALLOWANCE = 0;
const RSS_MAX_GROWTH_RATIO = 0.5; // +50 %
const RSS_MAX_GROWTH_MB = 100; // or +100 MB, whichever is larger (the first third of a short run is warm-up)
// --max-loop-delay-ms: `npm test` runs the soak beside other suites on 2 cores, where a stall of the whole
// machine is not the host's doing; it passes a looser bound there.
const ELD_MAX_MS = Number(argValue('max-loop-delay-ms') ?? 1000);
const CANCEL_SHARE = 0.04; // run()s whose caller aborts their signal after 30–600 ms
const TRIGGER_SHARE = 0.3; // the rest of the submissions are run()

// ------------------------------------------------------------------------------------------ build

const root = fileURLToPath(new URL('..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const distEntry = join(root, 'dist/index.js');
if (!existsSync(distEntry) || statSync(distEntry).mtimeMs < newestMtime(join(root, 'src'))) {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// Tag every process the chaos workers start (children inherit the host's environment) so that a
// grandchild re-parented away from this process can still be found.
const TAG = `corral-soak-${process.pid}-${randomBytes(4).toString('hex')}`;
process.env.CORRAL_SOAK_TAG = TAG;
process.env.CORRAL_SOAK_SEED = String(SEED);
process.env.CORRAL_SOAK_NICE = String(NICE);

// Imported after the build (a static import would load dist/ before it is fresh).
const { WorkerOrchestrator, WorkerExecutionMode, JobPriority } = await import('corral');
const chaosModule = await import('./fixtures/chaos.mjs');
const chaos = chaosModule.default;
const { prng, pick } = chaosModule;
const CHAOS = fileURLToPath(new URL('./fixtures/chaos.mjs', import.meta.url));

// ------------------------------------------------------------------------------------------ workers

type Isolation = 'inline' | 'thread' | 'process';
type Mix = [string, number][];

interface Spec {
  name: string;
  isolation: Isolation;
  options: WorkerOptions;
  /** TRIGGERED workers: the modes the load generator draws from, and the share of the load. */
  mix?: Mix;
  share?: number;
}

const triggered = (options: WorkerOptions): WorkerOptions => ({
  executionMode: WorkerExecutionMode.TRIGGERED,
  ...options,
});

// Isolated workers get `execArgv: []` (a plain Node thread / child, as a compiled app would run them):
// inheriting the soak's own `--import tsx` costs ~150 ms (thread) / ~300 ms (child) per cold start,
// which would turn the small timeouts into mostly cold-start timeouts. c-proc keeps the inheritance.
const specs: Spec[] = [
  {
    name: 't-thread',
    isolation: 'thread',
    share: 4,
    options: triggered({
      isolation: 'thread',
      execArgv: [],
      timeoutSeconds: 0.5,
      maxRetries: 2,
      retryDelayMs: 20,
      maxConsecutiveFailures: 4,
      breakerCooldownSeconds: 0.5,
      concurrency: 2,
      maxQueue: 25,
      priority: JobPriority.HIGH,
      idleTimeoutSeconds: 2,
    }),
    mix: [
      ['ok', 55],
      ['slow', 5],
      ['throw', 8],
      ['fatal', 4],
      ['async-throw', 6],
      ['exit', 8],
      ['uncaught', 4],
      ['hang', 8],
      ['hang-async', 2],
    ],
  },
  {
    name: 't-thread-mem',
    isolation: 'thread',
    share: 1.5,
    options: triggered({
      isolation: 'thread',
      execArgv: [],
      timeoutSeconds: 1,
      maxRetries: 1,
      retryDelayMs: 30,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 1,
      memoryLimitMb: 24,
      maxQueue: 10,
      recycleAfterRuns: 5,
    }),
    mix: [
      ['ok', 60],
      ['leak-heap', 30],
      ['throw', 10],
    ],
  },
  {
    name: 't-thread-hb',
    isolation: 'thread',
    share: 1.5,
    options: triggered({
      isolation: 'thread',
      execArgv: [],
      timeoutSeconds: 1,
      heartbeatTimeoutSeconds: 0.25,
      maxRetries: 1,
      retryDelayMs: 30,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 0.8,
      maxQueue: 10,
    }),
    mix: [
      ['ok', 45],
      ['slow', 10],
      ['no-heartbeat', 25],
      ['hang', 10],
      ['throw', 10],
    ],
  },
  {
    name: 't-proc',
    isolation: 'process',
    share: 4,
    options: triggered({
      isolation: 'process',
      execArgv: [],
      timeoutSeconds: 0.8,
      killGraceMs: 100,
      maxRetries: 2,
      retryDelayMs: 25,
      maxConsecutiveFailures: 4,
      breakerCooldownSeconds: 0.7,
      concurrency: 2,
      maxQueue: 25,
      priority: JobPriority.HIGH,
      recycleAfterRuns: 10,
    }),
    mix: [
      ['ok', 50],
      ['slow', 4],
      ['throw', 8],
      ['fatal', 3],
      ['async-throw', 5],
      ['exit', 8],
      ['uncaught', 4],
      ['hang', 6],
      ['ignore-sigterm', 6],
      ['spawn-grandchild', 6],
    ],
  },
  {
    name: 't-proc-mem',
    isolation: 'process',
    share: 1.5,
    options: triggered({
      isolation: 'process',
      execArgv: [],
      timeoutSeconds: 1,
      killGraceMs: 100,
      maxRetries: 1,
      retryDelayMs: 30,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 1,
      memoryLimitMb: 96,
      maxQueue: 10,
    }),
    mix: [
      ['ok', 55],
      ['leak-rss', 25],
      ['leak-heap', 5],
      ['exit', 15],
    ],
  },
  {
    name: 't-proc-hb',
    isolation: 'process',
    share: 1.5,
    options: triggered({
      isolation: 'process',
      execArgv: [],
      timeoutSeconds: 1,
      heartbeatTimeoutSeconds: 0.3,
      killGraceMs: 100,
      maxRetries: 1,
      retryDelayMs: 30,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 0.8,
      maxQueue: 10,
    }),
    mix: [
      ['ok', 45],
      ['slow', 10],
      ['no-heartbeat', 25],
      ['ignore-sigterm', 10],
      ['throw', 10],
    ],
  },
  {
    name: 't-inline',
    isolation: 'inline',
    share: 3,
    options: triggered({
      timeoutSeconds: 0.3,
      maxRetries: 2,
      retryDelayMs: 10,
      maxConsecutiveFailures: 5,
      breakerCooldownSeconds: 0.5,
      concurrency: 3,
      maxQueue: 30,
    }),
    mix: [
      ['ok', 55],
      ['throw', 10],
      ['fatal', 5],
      ['async-throw', 10],
      ['hang-async', 8],
      ['hang-ignore', 4],
      ['no-heartbeat', 8],
    ],
  },
  {
    name: 't-inline-hb',
    isolation: 'inline',
    share: 1,
    options: triggered({
      timeoutSeconds: 0.5,
      heartbeatTimeoutSeconds: 0.2,
      maxRetries: 1,
      retryDelayMs: 10,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 0.5,
      maxQueue: 10,
    }),
    mix: [
      ['ok', 55],
      ['slow', 10],
      ['no-heartbeat', 15],
      ['hang-async', 10],
      ['throw', 10],
    ],
  },
  // SCHEDULED and CONTINUOUS: no payload, chaos.mjs draws a mode from modesFor(ctx.config).
  {
    name: 's-thread',
    isolation: 'thread',
    options: {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: 0.5,
      isolation: 'thread',
      execArgv: [],
      timeoutSeconds: 0.4,
      maxRetries: 1,
      retryDelayMs: 20,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 1,
      memoryLimitMb: 24,
      priority: JobPriority.LOW,
    },
  },
  {
    name: 's-proc',
    isolation: 'process',
    options: {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: 0.8,
      isolation: 'process',
      execArgv: [],
      timeoutSeconds: 0.8,
      heartbeatTimeoutSeconds: 0.3,
      killGraceMs: 100,
      maxRetries: 1,
      retryDelayMs: 20,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 1,
      memoryLimitMb: 96,
      priority: JobPriority.LOW,
    },
  },
  {
    name: 's-inline',
    isolation: 'inline',
    options: {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: 0.6,
      timeoutSeconds: 0.3,
      heartbeatTimeoutSeconds: 0.2,
      maxRetries: 1,
      retryDelayMs: 10,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 0.5,
    },
  },
  {
    name: 'c-thread',
    isolation: 'thread',
    options: {
      executionMode: WorkerExecutionMode.CONTINUOUS,
      isolation: 'thread',
      execArgv: [],
      timeoutSeconds: 0.5,
      heartbeatTimeoutSeconds: 0.25,
      maxRetries: 1,
      retryDelayMs: 100,
      maxConsecutiveFailures: 4,
      breakerCooldownSeconds: 1,
      priority: JobPriority.LOW,
    },
  },
  {
    name: 'c-proc',
    isolation: 'process',
    options: {
      executionMode: WorkerExecutionMode.CONTINUOUS,
      isolation: 'process',
      // execArgv not given: this child inherits the host's flags (--import tsx), a slower cold start.
      timeoutSeconds: 0.8,
      killGraceMs: 100,
      maxRetries: 1,
      retryDelayMs: 100,
      maxConsecutiveFailures: 4,
      breakerCooldownSeconds: 1,
      priority: JobPriority.LOW,
    },
  },
];

const specByName = new Map(specs.map((s) => [s.name, s]));
const targets = specs.filter((s) => s.mix !== undefined);
const triggeredNames = new Set(targets.map((s) => s.name));

// ------------------------------------------------------------------------------------------ /proc

function procThreads(): number {
  const match = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match?.[1] ?? Number.NaN);
}

function readProc(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmd: string;
}

/** Live processes descended from this one (less tsx's esbuild service) or carrying the soak's tag. */
function leftovers(): ProcInfo[] {
  const all: ProcInfo[] = [];
  const tagged = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const stat = readProc(entry, 'stat');
    if (stat === '') continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') continue;
    const cmd = readProc(entry, 'cmdline').split('\0').join(' ').trim();
    all.push({ pid: Number(entry), ppid: Number(fields[1]), cmd });
    if (cmd.includes(TAG) || readProc(entry, 'environ').split('\0').includes(`CORRAL_SOAK_TAG=${TAG}`)) {
      tagged.add(Number(entry));
    }
  }
  const isToolchain = (p: ProcInfo) => p.ppid === process.pid && /\/esbuild\b/.test(p.cmd);
  const found = new Map<number, ProcInfo>();
  const frontier = [process.pid];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const p of all) {
      if (p.ppid === parent && !found.has(p.pid) && !isToolchain(p)) {
        found.set(p.pid, p);
        frontier.push(p.pid);
      }
    }
  }
  for (const p of all) if (tagged.has(p.pid)) found.set(p.pid, p);
  return [...found.values()];
}

// ------------------------------------------------------------------------------------------ helpers

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function table(columns: string[], rows: (string | number)[][]): void {
  const cells = [columns, ...rows.map((row) => row.map(String))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
  console.log('');
}

const mb = (bytes: number) => Math.round(bytes / 1048576);

function inc<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isRunError(error: unknown): error is RunError {
  return (
    typeof (error as { reason?: unknown } | null)?.reason === 'string' && (error as Error).name === 'RunError'
  );
}

/** The reason one attempt in `mode` must fail with on worker `spec` (undefined: it succeeds). */
function attemptReason(mode: string, spec: Spec): FailureReason | undefined {
  const { heartbeatTimeoutSeconds: hb, timeoutSeconds = 60 } = spec.options;
  const silent: FailureReason = hb !== undefined && hb < timeoutSeconds ? 'stalled' : 'timeout';
  switch (mode) {
    case 'ok':
    case 'slow':
      return undefined;
    case 'throw':
    case 'fatal':
    case 'async-throw':
      return 'error';
    case 'exit':
    case 'uncaught':
      return 'crash';
    case 'leak-heap':
    case 'leak-rss':
      return 'memory';
    case 'no-heartbeat':
      return hb !== undefined ? 'stalled' : 'timeout';
    default: // hang, hang-async, hang-ignore, ignore-sigterm, spawn-grandchild
      return silent;
  }
}

type Prediction = { ok: true; attempts: number } | { ok: false; reason: FailureReason; attempts: number };

function predict(modes: string[], spec: Spec): Prediction {
  const last = spec.options.maxRetries ?? 3;
  for (let i = 0; ; i++) {
    const mode = modes[i] ?? 'ok';
    const reason = attemptReason(mode, spec);
    if (reason === undefined) return { ok: true, attempts: i + 1 };
    if (mode === 'fatal' || i >= last) return { ok: false, reason, attempts: i + 1 };
  }
}

// ------------------------------------------------------------------------------------------ state

type Outcome =
  | 'pending'
  | 'succeeded'
  | 'dead-lettered'
  | 'refused: queue full'
  | 'refused: disabled'
  | 'cancelled by caller'
  | 'aborted by stop'
  | 'unexpected';

interface Submission {
  sid: number;
  kind: 'run' | 'trigger';
  worker: string;
  isolation: Isolation;
  modes: string[];
  outcome: Outcome;
  reason?: FailureReason;
  attempts?: number;
  cancelReason?: Error;
  settledAfterStop?: boolean;
  detail?: string;
}

const subs = new Map<number, Submission>();
const successBySid = new Map<number, number>();
const deadBySid = new Map<
  number,
  { reason: FailureReason; attempts: number; count: number; error: string }
>();
const problems: string[] = [];
const problem = (text: string) => {
  problems.push(text);
};
const attemptFailures = new Map<string, number>(); // `${isolation}|${reason}`
const nonRequested = new Map<string, { ok: number; failed: number }>(); // scheduled / continuous runs by worker
const breakerOpened = new Map<string, number>();
const breakerClosed = new Map<string, number>();
const inFlight = new Set<string>();
const inFlightByWorker = new Map<string, number>();
let maxInFlight = 0;
const maxInFlightByWorker = new Map<string, number>();
let stopStarted = false;
const cancelTimers = new Set<NodeJS.Timeout>();

process.on('uncaughtException', (error) => {
  problem(`host uncaughtException: ${error.stack ?? error}`);
  console.error('uncaughtException in the host:', error);
});
process.on('unhandledRejection', (error) => {
  problem(`host unhandledRejection: ${(error as Error)?.stack ?? error}`);
  console.error('unhandledRejection in the host:', error);
});

// ------------------------------------------------------------------------------------------ set-up

// Start libuv's thread pool (and the fs/crypto machinery) before the baseline, so that the thread count
// only moves with the orchestrator's threads.
await readFile(CHAOS);
await new Promise<void>((resolve) => randomBytes(8, () => resolve()));
const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
await sleep(50);
const threadsBefore = procThreads();
const leftBefore = new Set(leftovers().map((p) => p.pid));

const orch: Orchestrator = new WorkerOrchestrator({
  logger: false,
  maxConcurrentWorkers: MAX_CONCURRENT,
  shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
  healthSampleMs: 200,
  maxDeadLetters: 1_000_000,
});
for (const spec of specs) {
  orch.registerWorker(spec.name, spec.isolation === 'inline' ? chaos : CHAOS, spec.options);
}

orch.on('worker:start', ({ name, runId, attempt }) => {
  const key = `${runId}/${attempt}`;
  if (inFlight.has(key)) problem(`worker:start twice for ${name} ${key}`);
  inFlight.add(key);
  maxInFlight = Math.max(maxInFlight, inFlight.size);
  inc(inFlightByWorker, name);
  maxInFlightByWorker.set(
    name,
    Math.max(maxInFlightByWorker.get(name) ?? 0, inFlightByWorker.get(name) ?? 0),
  );
});
const attemptEnded = (name: string, runId: string, attempt: number) => {
  if (inFlight.delete(`${runId}/${attempt}`)) inc(inFlightByWorker, name, -1);
};
orch.on('worker:success', ({ name, runId, attempt, result }) => {
  attemptEnded(name, runId, attempt);
  const sid = (result as { sid?: unknown } | null)?.sid;
  if (typeof sid === 'number') inc(successBySid, sid);
  else if (triggeredNames.has(name))
    problem(`success of ${name} without a submission id: ${JSON.stringify(result)}`);
  else {
    const entry = nonRequested.get(name) ?? { ok: 0, failed: 0 };
    entry.ok++;
    nonRequested.set(name, entry);
  }
});
orch.on('worker:failure', ({ name, runId, attempt, reason, willRetry }) => {
  attemptEnded(name, runId, attempt);
  const spec = specByName.get(name);
  inc(attemptFailures, `${spec?.isolation}|${reason}`);
  if (!willRetry && !triggeredNames.has(name) && reason !== 'aborted') {
    const entry = nonRequested.get(name) ?? { ok: 0, failed: 0 };
    entry.failed++;
    nonRequested.set(name, entry);
  }
});
let deadLetterEvents = 0;
orch.on('worker:dead-letter', ({ name, entry }) => {
  // Injected fault: one dead letter in 20 is "lost" (neither recorded nor removed).
  if (INJECT === 'lost-dead-letter' && ++deadLetterEvents % 20 === 0) return;
  const sid = (entry.payload as { sid?: unknown } | undefined)?.sid;
  if (typeof sid !== 'number') {
    problem(
      `dead letter ${entry.id} of ${name} (${entry.reason}) without a submission id: a scheduled/continuous run?`,
    );
  } else {
    const seen = deadBySid.get(sid);
    if (seen) seen.count++;
    else deadBySid.set(sid, { reason: entry.reason, attempts: entry.attempts, count: 1, error: entry.error });
  }
  // Accounted for: drop it, as a consumer of the queue would (and so the host's memory stays flat).
  if (!orch.deadLetters.remove(entry.id)) problem(`dead letter ${entry.id} could not be removed`);
});
orch.on('worker:disabled', ({ name }) => inc(breakerOpened, name));
orch.on('worker:enabled', ({ name }) => inc(breakerClosed, name));

// ------------------------------------------------------------------------------------------ load

const random = prng(SEED);
const targetMix: [Spec, number][] = targets.map((s) => [s, s.share ?? 1]);
let nextSid = 1;
let startedAt = 0;

/**
 * Storms: every STORM_EVERY_MS the next triggered worker (round robin) fails for STORM_MS — every
 * attempt draws from its failing modes only — so that its breaker opens, cools down, fails its half-open
 * trial or passes it once the storm is over. Outside storms a retry succeeds half of the time.
 */
function stormingWorker(elapsedMs: number): string | undefined {
  const slot = Math.floor(elapsedMs / STORM_EVERY_MS);
  if (slot === 0 || elapsedMs - slot * STORM_EVERY_MS > STORM_MS) return undefined;
  return targets[(slot - 1) % targets.length]?.name;
}

function submit(): void {
  const spec = pick(targetMix, random);
  const retries = spec.options.maxRetries ?? 3;
  const mix = spec.mix as Mix;
  const storm = stormingWorker(performance.now() - startedAt) === spec.name;
  const failing = mix.filter(([mode]) => attemptReason(mode, spec) !== undefined);
  const modes: string[] = [pick(storm ? failing : mix, random)];
  for (let i = 0; i < retries; i++)
    modes.push(storm ? pick(failing, random) : random() < 0.5 ? 'ok' : pick(mix, random));
  const sid = nextSid++;
  const kind = random() < TRIGGER_SHARE ? 'trigger' : 'run';
  const sub: Submission = {
    sid,
    kind,
    worker: spec.name,
    isolation: spec.isolation,
    modes,
    outcome: 'pending',
  };
  subs.set(sid, sub);
  const payload = { sid, modes };
  const settled = (outcome: Outcome, detail?: string) => {
    if (sub.outcome !== 'pending') {
      problem(`submission ${sid} (${spec.name}) settled twice: ${sub.outcome}, then ${outcome}`);
      return;
    }
    sub.outcome = outcome;
    sub.settledAfterStop = stopStarted;
    if (detail !== undefined) sub.detail = detail;
  };
  if (kind === 'trigger') {
    orch.triggerWorker(spec.name, payload).then(
      (accepted) => {
        // Accepted: which end it had is read from the events at the end ('pending' until then).
        if (accepted) sub.detail = 'trigger-true';
        else settled('refused: disabled');
        if (accepted && sub.outcome === 'pending') sub.settledAfterStop = stopStarted;
      },
      (error: unknown) => {
        if (errorCode(error) === 'ERR_QUEUE_FULL') settled('refused: queue full');
        else settled('unexpected', `trigger rejected: ${String(error)}`);
      },
    );
    return;
  }
  let signal: AbortSignal | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (random() < CANCEL_SHARE) {
    const controller = new AbortController();
    signal = controller.signal;
    timer = setTimeout(
      () => {
        cancelTimers.delete(timer as NodeJS.Timeout);
        sub.cancelReason = new Error(`soak: caller cancelled submission ${sid}`);
        controller.abort(sub.cancelReason);
      },
      30 + Math.floor(random() * 570),
    );
    cancelTimers.add(timer);
  }
  orch.run(spec.name, payload, signal === undefined ? {} : { signal }).then(
    (value) => {
      if (timer !== undefined) {
        clearTimeout(timer);
        cancelTimers.delete(timer);
      }
      const got = (value as { sid?: unknown } | null)?.sid;
      if (got !== sid) settled('unexpected', `resolved with ${JSON.stringify(value)}`);
      else settled('succeeded');
    },
    (error: unknown) => {
      if (timer !== undefined) {
        clearTimeout(timer);
        cancelTimers.delete(timer);
      }
      const code = errorCode(error);
      if (code === 'ERR_QUEUE_FULL') return settled('refused: queue full');
      if (code === 'ERR_WORKER_DISABLED') return settled('refused: disabled');
      if (!isRunError(error)) return settled('unexpected', `rejected with ${String(error)}`);
      sub.reason = error.reason;
      sub.attempts = error.attempts;
      if (error.worker !== spec.name)
        problem(`RunError of ${sid} names worker ${error.worker}, not ${spec.name}`);
      if (error.reason !== 'aborted') return settled('dead-lettered');
      const cause = error.cause;
      if (sub.cancelReason !== undefined && cause === sub.cancelReason) return settled('cancelled by caller');
      // The caller's cancel timers are cleared before stop(): any other abort must come from stop().
      if (stopStarted) return settled('aborted by stop');
      return settled('unexpected', `aborted before stop() with an unknown cause: ${String(cause)}`);
    },
  );
}

// ------------------------------------------------------------------------------------------ run

const loadMs = MINUTES * 60_000;
console.log(
  `corral soak: ${MINUTES} min, ${RATE} submissions/s, seed ${SEED}, spinning children at nice ${NICE}, ${specs.length} workers ` +
    `(${targets.length} triggered), maxConcurrentWorkers ${MAX_CONCURRENT}, node ${process.version}`,
);

// Watchdog: a soak that does not finish in time is a hang, reported with the orchestrator's state.
const watchdog = setTimeout(() => {
  console.error(`WATCHDOG: the soak did not finish within ${Math.round(loadMs / 1000) + 60} s`);
  console.error(JSON.stringify(orch.getStatus(), null, 1));
  process.exit(3);
}, loadMs + 60_000);
watchdog.unref();

await orch.start();
startedAt = performance.now();
const rss: { t: number; bytes: number; heap: number; external: number }[] = [];
const rssTimer = setInterval(() => {
  const m = process.memoryUsage();
  rss.push({ t: performance.now() - startedAt, bytes: m.rss, heap: m.heapUsed, external: m.external });
}, 1000);
const progressTimer = setInterval(() => {
  const s = orch.getStatus();
  const settledCount = [...subs.values()].filter((x) => x.outcome !== 'pending').length;
  console.log(
    `  t=${Math.round((performance.now() - startedAt) / 1000)}s submitted ${subs.size} settled ${settledCount} ` +
      `running ${s.running} queued ${s.queued} open breakers ${Object.values(s.workerStates).filter((w) => w.breaker !== 'closed').length} ` +
      `rss ${mb(process.memoryUsage.rss())} MB eld.max ${Math.round(eld.max / 1e6)} ms`,
  );
}, 10_000);

// The worst event-loop gap, with the main thread's time on a CPU and waiting for one (run queue) during
// it, from /proc/self/task/<pid>/schedstat: tells a blocked loop (on CPU) from a starved machine (waiting).
// SOAK_GAPS=1 prints every gap over 150 ms.
const worstGap = { ms: 0, at: 0, cpuMs: 0, waitMs: 0 };
const schedstat = () =>
  readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
let lastTick = performance.now();
let lastSched = schedstat();
if (process.env.SOAK_GAPS === 'stack') {
  // Debug only (it adds a thread, so the thread check fails): a watcher thread that, while the main
  // thread's loop is stalled, reads where the main thread sits in the kernel (state, wchan, stack).
  const { Worker } = await import('node:worker_threads');
  const beat = new Int32Array(new SharedArrayBuffer(4));
  setInterval(() => Atomics.store(beat, 0, Math.round(performance.now() - startedAt)), 5).unref();
  const watcher = new Worker(
    `const { workerData: { beat, pid }, parentPort } = require('node:worker_threads');
     const fs = require('node:fs');
     const t0 = Date.now() - Atomics.load(beat, 0);
     setInterval(() => {
       const stale = Date.now() - t0 - Atomics.load(beat, 0);
       if (stale < 80) return;
       let stat = '', wchan = '', stack = '';
       try { stat = fs.readFileSync('/proc/' + pid + '/task/' + pid + '/stat', 'utf8'); } catch {}
       try { wchan = fs.readFileSync('/proc/' + pid + '/task/' + pid + '/wchan', 'utf8'); } catch {}
       try { stack = fs.readFileSync('/proc/' + pid + '/task/' + pid + '/stack', 'utf8').split('\\n').slice(0, 6).join(' < '); } catch {}
       const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
       console.log('    stalled ' + stale + ' ms: main thread state ' + state + ' wchan ' + wchan + ' stack ' + stack);
     }, 25);`,
    { eval: true, workerData: { beat, pid: process.pid } },
  );
  watcher.unref();
}
const gapTimer = setInterval(() => {
  const now = performance.now();
  const sched = schedstat();
  const gap = now - lastTick;
  if (gap > worstGap.ms || (process.env.SOAK_GAPS && gap > 150)) {
    const cpuMs = ((sched[0] as number) - (lastSched[0] as number)) / 1e6;
    const waitMs = ((sched[1] as number) - (lastSched[1] as number)) / 1e6;
    const at = (now - startedAt) / 1000;
    if (gap > worstGap.ms) Object.assign(worstGap, { ms: gap, at, cpuMs, waitMs });
    if (process.env.SOAK_GAPS && gap > 150) {
      console.log(
        `  gap ${Math.round(gap)} ms at t=${at.toFixed(1)}s: on cpu ${Math.round(cpuMs)} ms, run-queue wait ${Math.round(waitMs)} ms`,
      );
    }
  }
  lastTick = now;
  lastSched = sched;
}, 20);
const intervalMs = 1000 / RATE;
let due = performance.now();
const loadTimer = setInterval(
  () => {
    const now = performance.now();
    while (due <= now) {
      submit();
      due += intervalMs;
    }
  },
  Math.max(5, Math.floor(intervalMs / 2)),
);

await sleep(loadMs);

// Stop while the load is still flowing: queued runs are dropped, running ones finish or are terminated.
clearInterval(loadTimer);
clearInterval(rssTimer);
clearInterval(progressTimer);
for (const timer of cancelTimers) clearTimeout(timer);
cancelTimers.clear();
stopStarted = true;
const statusAtStop = orch.getStatus();
const stopT0 = performance.now();
const report: StopReport = await orch.stop();
const stopMs = performance.now() - stopT0;
clearInterval(gapTimer);
eld.disable();
// Injected faults: a tagged process left behind, a thread left running.
const { Worker } = await import('node:worker_threads');
const planted =
  INJECT === 'orphan'
    ? spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', TAG], { stdio: 'ignore', detached: true })
    : undefined;
const plantedThread =
  INJECT === 'thread' ? new Worker('setTimeout(() => {}, 30000)', { eval: true }) : undefined;
if (planted !== undefined || plantedThread !== undefined) await sleep(200);
const threadsRightAfterStop = procThreads();
const leftRightAfterStop = leftovers().filter((p) => !leftBefore.has(p.pid));
await new Promise((resolve) => setImmediate(resolve));
clearTimeout(watchdog);

// ------------------------------------------------------------------------------------------ accounting

// Triggered submissions accepted by triggerWorker: their end comes from the events.
for (const sub of subs.values()) {
  if (sub.kind !== 'trigger' || sub.detail !== 'trigger-true' || sub.outcome !== 'pending') continue;
  const ok = successBySid.get(sub.sid) ?? 0;
  const dead = deadBySid.get(sub.sid);
  if (ok === 1 && dead === undefined) sub.outcome = 'succeeded';
  else if (ok === 0 && dead !== undefined) {
    sub.outcome = 'dead-lettered';
    sub.reason = dead.reason;
    sub.attempts = dead.attempts;
  } else if (ok === 0 && dead === undefined) {
    // Ended without success or dead letter: only stop() may do that (no signal is given to triggers).
    sub.outcome = stopStarted ? 'aborted by stop' : 'unexpected';
  } else sub.outcome = 'unexpected';
}

const count = new Map<Outcome, number>();
const byIsolation = new Map<string, Map<Outcome, number>>();
const deadByReason = new Map<string, number>(); // `${isolation}|${reason}`
let predicted = 0;
const mispredicted = new Map<string, number>();
const mispredictedExample = new Map<string, string>();
for (const sub of subs.values()) {
  inc(count, sub.outcome);
  const row = byIsolation.get(sub.isolation) ?? new Map<Outcome, number>();
  inc(row, sub.outcome);
  byIsolation.set(sub.isolation, row);
  const ok = successBySid.get(sub.sid) ?? 0;
  const dead = deadBySid.get(sub.sid);
  const tag = `submission ${sub.sid} (${sub.kind} ${sub.worker} ${sub.modes.join(',')})`;
  if (dead !== undefined && dead.count > 1) problem(`${tag}: ${dead.count} dead letters`);
  if (ok > 1) problem(`${tag}: ${ok} success events`);
  switch (sub.outcome) {
    case 'pending':
      problem(`${tag}: still pending after stop() resolved`);
      break;
    case 'unexpected':
      problem(
        `${tag}: unexpected end: ${sub.detail ?? `success events ${ok}, dead letters ${dead?.count ?? 0}`}`,
      );
      break;
    case 'succeeded':
      if (ok !== 1 || dead !== undefined)
        problem(`${tag}: resolved, but ${ok} success events and ${dead?.count ?? 0} dead letters`);
      break;
    case 'dead-lettered':
      if (dead === undefined)
        problem(`${tag}: rejected (${sub.reason}, ${sub.attempts} attempts) without a dead letter`);
      else if (dead.reason !== sub.reason || dead.attempts !== sub.attempts)
        problem(
          `${tag}: RunError ${sub.reason}/${sub.attempts} but dead letter ${dead.reason}/${dead.attempts}`,
        );
      if (ok !== 0) problem(`${tag}: dead-lettered and a success event`);
      inc(deadByReason, `${sub.isolation}|${sub.reason}`);
      break;
    default:
      // refused, cancelled, aborted: no attempt may have succeeded or been dead-lettered
      if (ok !== 0 || dead !== undefined)
        problem(`${tag}: ${sub.outcome}, yet ${ok} success events and ${dead?.count ?? 0} dead letters`);
      if (sub.outcome === 'aborted by stop' && !sub.settledAfterStop)
        problem(`${tag}: aborted by stop before stop()`);
      if (sub.outcome.startsWith('refused') && sub.settledAfterStop)
        problem(`${tag}: refused after stop() began`);
  }
  const spec = specByName.get(sub.worker) as Spec;
  if (sub.outcome === 'succeeded' || sub.outcome === 'dead-lettered') {
    const expected = predict(sub.modes, spec);
    const got = sub.outcome === 'succeeded' ? 'ok' : `${sub.reason}`;
    const want = expected.ok ? 'ok' : expected.reason;
    if (got === want) predicted++;
    else {
      const key = `${sub.worker}: ${sub.modes.join(',')} expected ${want}, got ${got}`;
      inc(mispredicted, key);
      if (dead !== undefined && !mispredictedExample.has(key)) mispredictedExample.set(key, dead.error);
    }
  }
  if (sub.outcome === 'dead-lettered' && (sub.attempts ?? 0) > (spec.options.maxRetries ?? 3) + 1) {
    problem(`${tag}: ${sub.attempts} attempts, more than maxRetries + 1`);
  }
}
for (const sid of successBySid.keys())
  if (!subs.has(sid)) problem(`success event for unknown submission ${sid}`);
for (const sid of deadBySid.keys()) if (!subs.has(sid)) problem(`dead letter for unknown submission ${sid}`);
// getStatus() totals must agree with what the promises and events said, worker by worker.
const finalStatus = orch.getStatus();
for (const spec of specs) {
  const totals = finalStatus.workerStates[spec.name]?.totals;
  let ok: number;
  let failed: number;
  if (triggeredNames.has(spec.name)) {
    const mine = [...subs.values()].filter((sub) => sub.worker === spec.name);
    ok = mine.filter((sub) => sub.outcome === 'succeeded').length;
    failed = mine.filter((sub) => sub.outcome === 'dead-lettered').length;
  } else {
    ({ ok, failed } = nonRequested.get(spec.name) ?? { ok: 0, failed: 0 });
  }
  if (totals?.succeeded !== ok || totals?.failed !== failed) {
    problem(
      `${spec.name}: getStatus() totals succeeded ${totals?.succeeded} / failed ${totals?.failed}, ` +
        `but the soak saw ${ok} / ${failed}`,
    );
  }
}
const deadLeft = orch.deadLetters.list();
if (deadLeft.length > 0) problem(`${deadLeft.length} dead letters never announced by worker:dead-letter`);

const n = (o: Outcome) => count.get(o) ?? 0;
const submitted = subs.size;
const accountedSum =
  n('succeeded') +
  n('dead-lettered') +
  n('refused: queue full') +
  n('refused: disabled') +
  n('cancelled by caller') +
  n('aborted by stop');
const terminatedTriggered = report.terminated.filter((name) => triggeredNames.has(name)).length;
const stopFigure = report.dropped + terminatedTriggered;

// ------------------------------------------------------------------------------------------ figures

const loadSeconds = (stopT0 - startedAt) / 1000;
const window = loadSeconds >= 120 ? 60 : loadSeconds / 3;
const firstSamples = rss.filter((s) => s.t <= window * 1000);
const lastSamples = rss.filter((s) => s.t >= (loadSeconds - window) * 1000);
const firstRss = median(firstSamples.map((s) => s.bytes));
const lastRss = median(lastSamples.map((s) => s.bytes));
const heapFigures = `heapUsed ${mb(median(firstSamples.map((s) => s.heap)))} → ${mb(median(lastSamples.map((s) => s.heap)))} MB, external ${mb(median(firstSamples.map((s) => s.external)))} → ${mb(median(lastSamples.map((s) => s.external)))} MB`;
const rssGrowth = lastRss - firstRss;
const rssBound = Math.max(RSS_MAX_GROWTH_RATIO * firstRss, RSS_MAX_GROWTH_MB * 1048576);
const rssOk = rssGrowth <= rssBound;
const eldMaxMs = eld.max / 1e6;
const eldP99Ms = eld.percentile(99) / 1e6;

let threadsAfter = threadsRightAfterStop;
for (let i = 0; i < 20 && threadsAfter > threadsBefore + THREAD_ALLOWANCE; i++) {
  await sleep(100);
  threadsAfter = procThreads();
}
let leftAfter = leftRightAfterStop;
for (let i = 0; i < 20 && leftAfter.length > 0; i++) {
  await sleep(100);
  leftAfter = leftovers().filter((p) => !leftBefore.has(p.pid));
}

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
if (n('cancelled by caller') === 0 && MINUTES >= 0.5) missingCoverage.push('a run cancelled by its caller');
let capViolations = 0;
if (maxInFlight > MAX_CONCURRENT) capViolations++;
for (const [name, max] of maxInFlightByWorker) {
  if (max > (specByName.get(name)?.options.concurrency ?? 1)) capViolations++;
}

// ------------------------------------------------------------------------------------------ report

console.log('\n== submissions (run() and triggerWorker()) by isolation');
const outcomes: Outcome[] = [
  'succeeded',
  'dead-lettered',
  'refused: queue full',
  'refused: disabled',
  'cancelled by caller',
  'aborted by stop',
  'pending',
  'unexpected',
];
table(
  [
    'isolation',
    'submitted',
    ...outcomes.map((o) =>
      o.replace('refused: ', 'refused ').replace(' by caller', '').replace(' by stop', ' @stop'),
    ),
  ],
  [
    ...['thread', 'process', 'inline'].map((iso) => {
      const row = byIsolation.get(iso) ?? new Map<Outcome, number>();
      const total = [...row.values()].reduce((a, b) => a + b, 0);
      return [iso, total, ...outcomes.map((o) => row.get(o) ?? 0)];
    }),
    ['all', submitted, ...outcomes.map(n)],
  ],
);

console.log(
  '== failure reasons: dead letters (submissions) / failed attempts (all runs, incl. scheduled & continuous)',
);
const allReasons: FailureReason[] = ['error', 'timeout', 'crash', 'memory', 'stalled', 'aborted', 'load'];
table(
  ['isolation', ...allReasons],
  ['thread', 'process', 'inline'].map((iso) => [
    iso,
    ...allReasons.map(
      (r) => `${deadByReason.get(`${iso}|${r}`) ?? 0} / ${attemptFailures.get(`${iso}|${r}`) ?? 0}`,
    ),
  ]),
);

console.log('== workers');
table(
  [
    'worker',
    'isolation',
    'mode',
    'runs',
    'ok',
    'failed',
    'retries',
    'timeouts',
    'crashes',
    'breaker open/closed',
    'max in flight',
  ],
  specs.map((s) => {
    const st = finalStatus.workerStates[s.name];
    return [
      s.name,
      s.isolation,
      s.options.executionMode ?? 'scheduled',
      st?.totals.runs ?? 0,
      st?.totals.succeeded ?? 0,
      st?.totals.failed ?? 0,
      st?.totals.retries ?? 0,
      st?.totals.timeouts ?? 0,
      st?.totals.crashes ?? 0,
      `${breakerOpened.get(s.name) ?? 0}/${breakerClosed.get(s.name) ?? 0}`,
      `${maxInFlightByWorker.get(s.name) ?? 0}/${s.options.concurrency ?? 1}`,
    ];
  }),
);

console.log(
  `stop(): ${Math.round(stopMs)} ms; at stop ${statusAtStop.running} running, ${statusAtStop.queued} queued; ` +
    `report: completed ${report.completed.length}, terminated ${report.terminated.length} ` +
    `(${terminatedTriggered} of triggered workers), dropped ${report.dropped}, requeued ${report.requeued}`,
);
const mispredictedTotal = [...mispredicted.values()].reduce((a, b) => a + b, 0);
console.log(
  `outcome as predicted from the modes: ${predicted}/${predicted + mispredictedTotal} ` +
    '(informational: e.g. a cold start under load can turn ok into timeout)',
);
for (const [what, times] of [...mispredicted].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  const example = mispredictedExample.get(what);
  console.log(`  ${times}× ${what}${example === undefined ? '' : ` (last error: ${example.slice(0, 90)})`}`);
}
console.log('');

interface Check {
  name: string;
  value: string;
  bound: string;
  ok: boolean;
}
const checks: Check[] = [
  {
    name: 'accounting',
    value: `${n('succeeded')} ok + ${n('dead-lettered')} dead + ${n('refused: queue full') + n('refused: disabled')} refused + ${n('cancelled by caller')} cancelled + ${n('aborted by stop')} aborted = ${accountedSum} of ${submitted}`,
    bound: 'sum = submitted, 0 pending, 0 problems',
    ok: accountedSum === submitted && n('pending') === 0 && n('unexpected') === 0 && problems.length === 0,
  },
  {
    name: 'stop report',
    value: `aborted by stop ${n('aborted by stop')}; dropped ${report.dropped} + terminated(triggered) ${terminatedTriggered} = ${stopFigure}`,
    bound: 'equal',
    ok: n('aborted by stop') === stopFigure,
  },
  {
    name: 'concurrency caps',
    value: `max attempts in flight ${maxInFlight}; per-worker violations ${capViolations - (maxInFlight > MAX_CONCURRENT ? 1 : 0)}`,
    bound: `≤ ${MAX_CONCURRENT}; ≤ concurrency`,
    ok: capViolations === 0,
  },
  {
    name: 'orphans',
    value: `${leftRightAfterStop.length} right after stop(), ${leftAfter.length} 2 s later`,
    bound: '0 when stop() resolves',
    ok: leftRightAfterStop.length === 0,
  },
  {
    name: 'threads',
    value: `${threadsBefore} before, ${threadsRightAfterStop} right after stop(), ${threadsAfter} after ≤ 2 s`,
    bound: `≤ before + ${THREAD_ALLOWANCE} when stop() resolves`,
    ok: threadsRightAfterStop <= threadsBefore + THREAD_ALLOWANCE,
  },
  {
    name: 'host rss',
    value: `${mb(firstRss)} → ${mb(lastRss)} MB (${rssGrowth >= 0 ? '+' : ''}${mb(rssGrowth)} MB, ${((rssGrowth / firstRss) * 100).toFixed(1)} %; medians of the first/last ${Math.round(window)} s; ${heapFigures})`,
    bound: `≤ max(+${RSS_MAX_GROWTH_RATIO * 100} %, +${RSS_MAX_GROWTH_MB} MB) = +${mb(rssBound)} MB`,
    ok: rssOk,
  },
  {
    name: 'event loop delay',
    value:
      `max ${eldMaxMs.toFixed(1)} ms, p99 ${eldP99Ms.toFixed(1)} ms; worst gap ${Math.round(worstGap.ms)} ms at ` +
      `t=${worstGap.at.toFixed(1)}s (main thread on CPU ${Math.round(worstGap.cpuMs)} ms, waiting for a CPU ${Math.round(worstGap.waitMs)} ms)`,
    bound: `max ≤ ${ELD_MAX_MS} ms`,
    ok: eldMaxMs <= ELD_MAX_MS,
  },
  {
    name: 'chaos coverage',
    value:
      missingCoverage.length === 0
        ? 'all reasons in thread/process (+inline), breakers opened and closed'
        : `missing: ${missingCoverage.join(', ')}`,
    bound: 'nothing missing',
    ok: missingCoverage.length === 0,
  },
];

console.log('== checks');
table(
  ['check', 'result', 'value', 'bound'],
  checks.map((c) => [c.name, c.ok ? 'PASS' : 'FAIL', c.value, c.bound]),
);
if (leftRightAfterStop.length > 0) {
  console.log('processes left when stop() resolved:');
  for (const p of leftRightAfterStop) console.log(`  pid ${p.pid} ppid ${p.ppid}: ${p.cmd}`);
}
if (problems.length > 0) {
  console.log(`${problems.length} problem(s), first ${Math.min(problems.length, 25)}:`);
  for (const text of problems.slice(0, 25)) console.log(`  ${text}`);
}
const failed = checks.filter((c) => !c.ok);
console.log(failed.length === 0 ? 'SOAK PASSED' : `SOAK FAILED: ${failed.map((c) => c.name).join(', ')}`);
process.exitCode = failed.length === 0 ? 0 : 1;
await plantedThread?.terminate();
// Anything still running (a leftover process the library failed to end) must not keep the soak alive.
for (const p of leftAfter) {
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // gone
  }
}
