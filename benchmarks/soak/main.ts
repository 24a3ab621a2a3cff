// The soak's run (see benchmarks/soak.ts for what it checks): arguments, build, the orchestrator and its
// chaos workers, the load for N minutes, stop() while the load still flows, then accounting, checks and
// report. Exit code 1 if any check fails, 2 on bad arguments, 3 if the soak hangs (watchdog).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { WorkerOrchestrator as Orchestrator, StopReport } from 'corral';
import { account, Ledger, watch } from './accounting.ts';
import { soakArgs, USAGE } from './args.ts';
import { capViolations, chaosGaps, checks, HostMonitor, THREAD_ALLOWANCE } from './checks.ts';
import { LoadGenerator } from './load.ts';
import { leftovers, procThreads } from './proc.ts';
import { printChecks, printFigures } from './report.ts';
import { mb } from './util.ts';
import { soakWorkers } from './workers.ts';

const args = soakArgs(process.argv.slice(2));
if ('error' in args) {
  console.error(`${args.error}\n${USAGE}`);
  process.exit(2);
}
const { minutes, rate, seed, nice, inject, maxLoopDelayMs, maxBlockingMs } = args;

// Bounds of the checks (stated in the summary).
const MAX_CONCURRENT = 12;
const SHUTDOWN_TIMEOUT_MS = 400; // short: attempts still in flight at stop() are terminated

// ------------------------------------------------------------------------------------------ build

const root = fileURLToPath(new URL('../..', import.meta.url));

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
process.env.CORRAL_SOAK_SEED = String(seed);
process.env.CORRAL_SOAK_NICE = String(nice);

// Imported after the build (a static import would load dist/ before it is fresh), and chaos.mjs after
// the environment it reads at load is set.
const { WorkerOrchestrator, WorkerExecutionMode, JobPriority } = await import('corral');
const chaosModule = await import('../fixtures/chaos.mjs');
const chaos = chaosModule.default;
const { prng, pick } = chaosModule;
const CHAOS = fileURLToPath(new URL('../fixtures/chaos.mjs', import.meta.url));

const specs = soakWorkers({ WorkerExecutionMode, JobPriority });
const triggeredCount = specs.filter((s) => s.mix !== undefined).length;
const ledger = new Ledger(specs);

process.on('uncaughtException', (error) => {
  ledger.problem(`host uncaughtException: ${error.stack ?? error}`);
  console.error('uncaughtException in the host:', error);
});
process.on('unhandledRejection', (error) => {
  ledger.problem(`host unhandledRejection: ${(error as Error)?.stack ?? error}`);
  console.error('unhandledRejection in the host:', error);
});

// ------------------------------------------------------------------------------------------ set-up

// Start libuv's thread pool (and the fs/crypto machinery) before the baseline, so that the thread count
// only moves with the orchestrator's threads.
await readFile(CHAOS);
await new Promise<void>((resolve) => randomBytes(8, () => resolve()));
const monitor = new HostMonitor();
await sleep(50);
const threadsBefore = procThreads();
const leftBefore = new Set(leftovers(TAG).map((p) => p.pid));

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
watch(orch, ledger, specs, inject);
const load = new LoadGenerator(orch, ledger, specs, prng(seed), pick);

// ------------------------------------------------------------------------------------------ run

const loadMs = minutes * 60_000;
console.log(
  `corral soak: ${minutes} min, ${rate} submissions/s, seed ${seed}, spinning children at nice ${nice}, ${specs.length} workers ` +
    `(${triggeredCount} triggered), maxConcurrentWorkers ${MAX_CONCURRENT}, node ${process.version}`,
);

// Watchdog: a soak that does not finish in time is a hang, reported with the orchestrator's state.
const watchdog = setTimeout(() => {
  console.error(`WATCHDOG: the soak did not finish within ${Math.round(loadMs / 1000) + 60} s`);
  console.error(JSON.stringify(orch.getStatus(), null, 1));
  process.exit(3);
}, loadMs + 60_000);
watchdog.unref();

await orch.start();
load.start(rate);
monitor.start(load.startedAt);
const progressTimer = setInterval(() => {
  const s = orch.getStatus();
  console.log(
    `  t=${Math.round((performance.now() - load.startedAt) / 1000)}s submitted ${ledger.submitted} ended ${ledger.ended} ` +
      `running ${s.running} queued ${s.queued} open breakers ${Object.values(s.workerStates).filter((w) => w.breaker !== 'closed').length} ` +
      `rss ${mb(process.memoryUsage.rss())} MB eld.max ${Math.round(monitor.eld.max / 1e6)} ms`,
  );
}, 10_000);

await sleep(loadMs);

// Stop while the load is still flowing: queued runs are dropped, running ones finish or are terminated.
load.stop();
monitor.stopSampling();
clearInterval(progressTimer);
ledger.stopStarted = true;
const statusAtStop = orch.getStatus();
const stopT0 = performance.now();
const report: StopReport = await orch.stop();
const stopMs = performance.now() - stopT0;
monitor.stop();
// Injected faults: a tagged process left behind, a thread left running.
const { Worker } = await import('node:worker_threads');
const planted =
  inject === 'orphan'
    ? spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', TAG], { stdio: 'ignore', detached: true })
    : undefined;
const plantedThread =
  inject === 'thread' ? new Worker('setTimeout(() => {}, 30000)', { eval: true }) : undefined;
if (planted !== undefined || plantedThread !== undefined) await sleep(200);
const threadsRightAfterStop = procThreads();
const leftRightAfterStop = leftovers(TAG).filter((p) => !leftBefore.has(p.pid));
await new Promise((resolve) => setImmediate(resolve));
clearTimeout(watchdog);

// ------------------------------------------------------------------------------------------ accounting

const accounting = account(orch, ledger, specs, report);
const finalStatus = orch.getStatus();

// ------------------------------------------------------------------------------------------ figures

const loadSeconds = (stopT0 - load.startedAt) / 1000;
let threadsAfter = threadsRightAfterStop;
for (let i = 0; i < 20 && threadsAfter > threadsBefore + THREAD_ALLOWANCE; i++) {
  await sleep(100);
  threadsAfter = procThreads();
}
let leftAfter = leftRightAfterStop;
for (let i = 0; i < 20 && leftAfter.length > 0; i++) {
  await sleep(100);
  leftAfter = leftovers(TAG).filter((p) => !leftBefore.has(p.pid));
}

// ------------------------------------------------------------------------------------------ report

printFigures(accounting, ledger, specs, finalStatus, report, { status: statusAtStop, ms: stopMs });
const passed = printChecks(
  checks({
    ...monitor.rssFigures(loadSeconds),
    n: (o) => accounting.count.get(o) ?? 0,
    accountedSum: accounting.accountedSum,
    terminatedTriggered: accounting.terminatedTriggered,
    stopFigure: accounting.stopFigure,
    submitted: ledger.submitted,
    problems: ledger.problems.length,
    report,
    maxInFlight: ledger.maxInFlight,
    maxConcurrent: MAX_CONCURRENT,
    capViolations: capViolations(ledger, specs, MAX_CONCURRENT),
    leftRightAfterStop,
    leftAfter,
    threadsBefore,
    threadsRightAfterStop,
    threadsAfter,
    eldMaxMs: monitor.eld.max / 1e6,
    eldP99Ms: monitor.eld.percentile(99) / 1e6,
    eldMaxBoundMs: maxLoopDelayMs,
    worstGap: monitor.worstGap,
    worstCpuGap: monitor.worstCpuGap,
    maxBlockingMs,
    missingCoverage: chaosGaps(ledger, accounting.count, minutes),
  }),
  leftRightAfterStop,
  ledger,
);
process.exitCode = passed ? 0 : 1;
await plantedThread?.terminate();
// Anything still running (a leftover process the library failed to end) must not keep the soak alive.
for (const p of leftAfter) {
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // gone
  }
}
