// `npm start`: a ~20 s tour of corral with workers that compute, crash, hang and leak.
// It shows a live status table (redrawn each second on a terminal, printed every 5 s otherwise),
// then stops gracefully and prints a summary. CORRAL_DEMO_SECONDS sets the duration; the first
// Ctrl-C / SIGTERM stops early (gracefully), a second one exits at once.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderStatusTable, type WorkerColumnsLike } from '../src/cli/status-table.ts';
import { JobPriority, WorkerExecutionMode, WorkerOrchestrator } from '../src/index.ts';

const { SCHEDULED, TRIGGERED, CONTINUOUS } = WorkerExecutionMode;

const seconds = Number(process.env.CORRAL_DEMO_SECONDS ?? 20);
if (!(seconds > 0)) {
  console.error(`CORRAL_DEMO_SECONDS must be a positive number, got ${process.env.CORRAL_DEMO_SECONDS}`);
  process.exit(2);
}
const isTTY = process.stdout.isTTY === true;
const BATCH_DIR = join(tmpdir(), 'corral-demo'); // where fetch.mjs writes (see batches.mjs)

// Silent logger: the table and the event lines below are the demo's output.
// A store file: a second `npm start` shows state carried over (totals, dead letters, disabled workers,
// last runs). CORRAL_DEMO_STORE moves it ('memory' for none).
const STORE = process.env.CORRAL_DEMO_STORE ?? '.corral-demo.db';
const orch = new WorkerOrchestrator({
  maxConcurrentWorkers: 4,
  healthSampleMs: 500,
  shutdownTimeoutMs: 5000,
  logger: false,
  store: STORE,
});

const here = (file: string) => new URL(file, import.meta.url);

// CPU-heavy, in a thread; heartbeats per sieve segment, so a stalled run would be caught.
orch.registerWorker('primes', here('./primes.mjs'), {
  executionMode: SCHEDULED,
  intervalSeconds: 3,
  isolation: 'thread',
  priority: JobPriority.LOW,
  heartbeatTimeoutSeconds: 2,
});
// CPU-heavy and never idle: a fresh child process every 5 runs.
orch.registerWorker('hash', here('./hash.mjs'), {
  executionMode: CONTINUOUS,
  isolation: 'process',
  recycleAfterRuns: 5,
  priority: JobPriority.LOW,
});
// Crash-prone: retried twice per run; three failed runs in a row open the breaker for 3 s.
orch.registerWorker('flaky-api', here('./flaky-api.mjs'), {
  executionMode: TRIGGERED,
  isolation: 'process',
  maxRetries: 2,
  retryDelayMs: 100,
  priority: JobPriority.HIGH,
  maxConsecutiveFailures: 3,
  breakerCooldownSeconds: 3,
});
// Hangs in sync code: killed after 1 s (SIGTERM, SIGKILL 500 ms later); opens its breaker
// after two timeouts and gets a half-open trial 5 s later.
orch.registerWorker('hang', here('./hang.mjs'), {
  executionMode: SCHEDULED,
  intervalSeconds: 4,
  isolation: 'process',
  timeoutSeconds: 1,
  killGraceMs: 500,
  maxRetries: 0,
  maxConsecutiveFailures: 2,
  breakerCooldownSeconds: 5,
});
// Leaks ~160 MiB/s until its 64 MiB heap limit ends the thread (the timeout is a backstop).
orch.registerWorker('leak', here('./leak.mjs'), {
  executionMode: SCHEDULED,
  intervalSeconds: 5,
  isolation: 'thread',
  memoryLimitMb: 64,
  maxRetries: 0,
  timeoutSeconds: 10,
});
// A pipeline: every successful fetch triggers process; cleanup never overlaps process.
orch.registerWorker('fetch', here('./fetch.mjs'), {
  executionMode: SCHEDULED,
  intervalSeconds: 2,
  isolation: 'thread',
});
orch.registerWorker('process', here('./process.mjs'), {
  executionMode: TRIGGERED,
  dependsOn: ['fetch'],
  isolation: 'thread',
  priority: JobPriority.HIGH,
});
orch.registerWorker('cleanup', here('./cleanup.mjs'), {
  executionMode: SCHEDULED,
  intervalSeconds: 6,
  isolation: 'process',
  blocks: ['process'],
});

// --- output -------------------------------------------------------------------------------

// What each worker shows, printed once at the start: one line per registration above.
const TOUR: readonly (readonly [string, string])[] = [
  ['primes', 'CPU-heavy sieve in a thread, every 3 s; heartbeats per segment (a stall is caught in 2 s)'],
  ['hash', 'CPU-heavy hashing in a child process, back to back; a fresh child every 5 runs'],
  [
    'flaky-api',
    'triggered every 0.7 s, in a process: 40 % errors, 10 % crashes; 2 retries, then a dead letter; 3 failed runs open its breaker for 3 s',
  ],
  [
    'hang',
    'busy loop in a process, every 4 s: killed by its 1 s timeout; 2 timeouts open its breaker for 5 s',
  ],
  [
    'leak',
    'grows its heap in a thread, every 5 s, until its 64 MiB memoryLimitMb (the V8 heap limit) ends the thread',
  ],
  ['fetch', 'pipeline step 1, in a thread, every 2 s: writes a batch file'],
  ['process', 'pipeline step 2: triggered by each successful fetch (dependsOn), aggregates the newest batch'],
  ['cleanup', 'every 6 s, in a process: deletes old batches; blocks "process", so never runs alongside it'],
];

function intro(): string[] {
  const width = Math.max(...TOUR.map(([name]) => name.length));
  return [
    `corral demo: ${seconds} s (CORRAL_DEMO_SECONDS=120 npm start runs it for 2 minutes; Ctrl-C stops it gracefully)`,
    ...TOUR.map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
    'CPU %/run: % of one core per run in flight; "-" when nothing runs or no sample of the current run yet.',
  ];
}

const recent: string[] = []; // last event lines, shown under the table on a terminal
function note(line: string): void {
  const stamped = `${new Date().toISOString().slice(11, 23)}  ${line}`;
  if (!isTTY) {
    console.log(stamped);
    return;
  }
  recent.push(stamped);
  if (recent.length > 10) recent.shift();
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

orch.on('worker:failure', (e) => {
  const retry = e.willRetry ? ', will retry' : '';
  note(`FAIL   ${e.name} (attempt ${e.attempt}, ${e.reason}${retry}): ${message(e.error)}`);
});
orch.on('worker:disabled', (e) =>
  note(`OPEN   ${e.name}: breaker opened after ${e.consecutiveFailures} failed runs`),
);
orch.on('worker:enabled', (e) => note(`CLOSED ${e.name}: enabled again`));
orch.on('worker:dead-letter', (e) => note(`DEAD   ${e.name}: dead letter ${e.entry.id} (${e.entry.reason})`));
orch.on('worker:success', (e) => {
  if (e.name !== 'process') return;
  const r = e.result as { count: number; mean?: number };
  note(`OK     process: aggregated a batch of ${r.count}, mean ${r.mean?.toFixed(1) ?? '-'}`);
});

// How each run that ended after stop() was called ended: StopReport.completed names the runs that
// finished inside the grace period whatever their outcome, so the summary says which outcome.
const endedWhileStopping: string[] = [];
orch.on('worker:success', () => {
  if (stopping) endedWhileStopping.push('succeeded');
});
orch.on('worker:failure', (e) => {
  // 'aborted': cut short by stop() itself, which the report lists as terminated.
  if (stopping && !e.willRetry && e.reason !== 'aborted') endedWhileStopping.push(`failed (${e.reason})`);
});

function configs(names: string[]): Record<string, WorkerColumnsLike | undefined> {
  return Object.fromEntries(names.map((name) => [name, orch.getWorker(name)]));
}

function table(): string {
  const status = orch.getStatus();
  return renderStatusTable(status, configs(Object.keys(status.workerStates)));
}

const startedAt = Date.now();
let dashboardLine: string | undefined;
let introLines = 0; // rows the intro takes at the top of a terminal; redraws start below them

/** Printed once: the intro, and the dashboard URL (on a terminal it stays above the redrawn table). */
function printIntro(): void {
  const lines = intro();
  if (dashboardLine !== undefined) lines.push(dashboardLine);
  if (isTTY) {
    // Home + clear screen once; the redraws only clear what is below these lines.
    process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n\n`);
    const columns = process.stdout.columns || 80;
    introLines = lines.reduce((rows, line) => rows + Math.max(1, Math.ceil(line.length / columns)), 0) + 1;
  } else {
    console.log(lines.join('\n'));
  }
}

function draw(): void {
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(0);
  const title = `${elapsed}/${seconds} s`;
  if (isTTY) {
    // Cursor to the first row under the intro, clear to the end, redraw; only on a terminal, never
    // into a pipe or a file.
    process.stdout.write(
      `\x1b[${introLines + 1};1H\x1b[J${title}\n${table()}\n\nrecent events:\n${recent.join('\n')}\n`,
    );
  } else {
    console.log(`\n${title}\n${table()}\n`);
  }
}

// --- lifecycle ----------------------------------------------------------------------------

let triggerCount = 0;
function triggerFlakyApi(): void {
  // Resolves true/false once the run ended (false: breaker open); a failure is a dead letter.
  orch.triggerWorker('flaky-api', { id: ++triggerCount }).catch((err: unknown) => {
    note(`ERROR  trigger flaky-api: ${message(err)}`);
  });
}

let stopping: Promise<void> | undefined;
const timers: NodeJS.Timeout[] = [];

function shutdown(why: string): Promise<void> {
  stopping ??= (async () => {
    for (const t of timers) clearInterval(t); // clearInterval clears timeouts too
    note(`stopping (${why})...`);
    if (isTTY) draw();
    await server?.close();
    const report = await orch.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    printSummary(report);
    rmSync(BATCH_DIR, { recursive: true, force: true });
    // stop() resolved, so no thread or child is left: the event loop should now drain and the
    // process exit by itself. If it does not, something leaked; say so instead of hanging.
    setTimeout(() => {
      console.error('corral demo: the event loop is still busy after stop(); exiting anyway');
      process.exit(0);
    }, 3000).unref();
  })();
  return stopping;
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    console.error(`\n${signal} again: exiting without waiting`);
    process.exit(130);
  }
  shutdown(`received ${signal}`).catch(fail);
}

function printSummary(report: Awaited<ReturnType<typeof orch.stop>>): void {
  const status = orch.getStatus();
  console.log(`\n=== summary after ${((Date.now() - startedAt) / 1000).toFixed(1)} s ===\n`);
  console.log(renderStatusTable(status, configs(Object.keys(status.workerStates))));
  console.log('\nper-worker totals:');
  for (const [name, w] of Object.entries(status.workerStates)) {
    const t = w.totals;
    console.log(
      `  ${name.padEnd(10)} ${t.runs} runs: ${t.succeeded} ok, ${t.failed} failed ` +
        `(${t.retries} retries, ${t.timeouts} timeouts, ${t.crashes} crashes)`,
    );
  }
  const dead = orch.deadLetters.list();
  const byWorker = [...new Set(dead.map((d) => d.name))].map(
    (name) => `${name}: ${dead.filter((d) => d.name === name).length}`,
  );
  console.log(`\ndead letters: ${dead.length}${byWorker.length ? ` (${byWorker.join(', ')})` : ''}`);
  const list = (names: string[]) => (names.length ? names.join(', ') : 'none');
  const outcomes = new Map<string, number>();
  for (const outcome of endedWhileStopping) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const how = [...outcomes].map(([outcome, n]) => `${n} ${outcome}`).join(', ');
  console.log('stop (runs in flight when the demo stopped):');
  console.log(
    `  finished during the grace period: ${report.completed.length} (${list(report.completed)})` +
      (how ? `: ${how}` : ''),
  );
  console.log(
    `  terminated at the end of the grace period: ${report.terminated.length} (${list(report.terminated)})`,
  );
  console.log(`  queued runs kept for the next start: ${report.requeued}, dropped: ${report.dropped}`);
}

function fail(err: unknown): void {
  console.error('corral demo failed:', err);
  process.exitCode = 1;
  orch.stop().catch(() => {});
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let server: { url: string; close(): Promise<void> } | undefined;
try {
  await orch.start();
  // The dashboard: CORRAL_DEMO_PORT (default: any free port), on 127.0.0.1 only.
  server = await orch.listen({ port: Number(process.env.CORRAL_DEMO_PORT ?? 0), token: 'demo' });
  dashboardLine = `dashboard: ${server.url}  (token for replays: demo)`;
  printIntro();
  const carried = orch.getHistory().length;
  if (carried > 0)
    note(`state carried over from ${STORE}: ${carried} earlier runs, ${orch.deadLetters.size} dead letters`);
} catch (err) {
  fail(err);
}
if (!process.exitCode) {
  triggerFlakyApi();
  timers.push(
    setInterval(triggerFlakyApi, 700),
    setInterval(draw, isTTY ? 1000 : 5000),
    setTimeout(() => shutdown(`${seconds} s elapsed`).catch(fail), seconds * 1000),
  );
  draw();
}
