import { columns } from './columns.ts';
// Renders orch.getStatus() as a compact fixed-width text table: one row per worker.
// Pure (no I/O, no clock, no colours) so the demo (workers/demo.ts) and the CLI (`corral status`)
// share it and tests can compare strings. The input types are structural subsets of the status, so
// parsed JSON from GET /status fits as well as the live object.

export interface WorkerTotalsLike {
  runs: number;
  succeeded: number;
  failed: number;
  retries: number;
  timeouts: number;
  crashes: number;
}

export interface WorkerStateLike {
  enabled: boolean;
  running: boolean;
  runningCount?: number | undefined;
  breaker?: string | undefined;
  lastFailureReason?: string | undefined;
  totals?: WorkerTotalsLike | undefined;
  /** When the latest run started (ISO): a sample older than this belongs to an earlier run. */
  lastRun?: string | undefined;
  resources?: { cpuPercent: number; memoryBytes: number; sampledAt?: string | undefined } | undefined;
}

export interface StatusLike {
  state: string;
  workers: number;
  running: number;
  queued: number;
  workerStates: Readonly<Record<string, WorkerStateLike>>;
}

/** What the table shows of a worker's configuration (orch.getWorker(name) fits). */
export interface WorkerColumnsLike {
  executionMode?: string | undefined;
  isolation?: string | undefined;
}

const HEADERS = [
  'worker',
  'mode',
  'isolation',
  'state',
  'breaker',
  'ok/failed',
  'retries',
  'timeouts',
  'crashes',
  'CPU %/run',
  'mem MiB',
  'last failure',
] as const;

// Columns holding numbers are right-aligned so digits line up.
const RIGHT_ALIGNED = new Set(['ok/failed', 'retries', 'timeouts', 'crashes', 'CPU %/run', 'mem MiB']);

const MIB = 1024 * 1024;

/** Shown for a figure that would not describe what the worker is doing now. */
const BLANK = '-';

const inFlightOf = (w: WorkerStateLike): number => w.runningCount ?? (w.running ? 1 : 0);

function stateOf(w: WorkerStateLike): string {
  const inFlight = inFlightOf(w);
  if (!w.enabled) return 'disabled';
  if (inFlight > 1) return `running x${inFlight}`;
  return inFlight === 1 || w.running ? 'running' : 'idle';
}

/**
 * The CPU and memory cells. The sample stays in the status after a run ends (README, "Health"), so a
 * worker with nothing in flight, or whose sample predates its latest run, shows blanks rather than an
 * old figure. CPU is summed over the runs in flight, each up to 100 per core it keeps busy; the cell is
 * the mean per run, capped at 100 (a child's GC and libuv threads can push one process past one core).
 * A thread's memory is the heap it reported; 0 means no report reached the host yet (a thread still
 * starting), never a real heap size, so it is blank too.
 */
function resourceCells(w: WorkerStateLike, config: WorkerColumnsLike | undefined): [string, string] {
  const r = w.resources;
  const inFlight = Math.max(inFlightOf(w), w.running ? 1 : 0);
  if (r === undefined || inFlight === 0) return [BLANK, BLANK];
  if (r.sampledAt !== undefined && w.lastRun !== undefined && r.sampledAt < w.lastRun) return [BLANK, BLANK];
  const cpu = Math.min(100, r.cpuPercent / inFlight).toFixed(0);
  const noHeapYet = config?.isolation === 'thread' && r.memoryBytes === 0;
  return [cpu, noHeapYet ? BLANK : (r.memoryBytes / MIB).toFixed(1)];
}

function rowOf(name: string, w: WorkerStateLike, config: WorkerColumnsLike | undefined): string[] {
  const t = w.totals;
  const [cpu, mem] = resourceCells(w, config);
  return [
    name,
    config?.executionMode ?? '-',
    config?.isolation ?? '-',
    stateOf(w),
    w.breaker ?? '-',
    t ? `${t.succeeded}/${t.failed}` : '-',
    t ? String(t.retries) : '-',
    t ? String(t.timeouts) : '-',
    t ? String(t.crashes) : '-',
    cpu,
    mem,
    w.lastFailureReason ?? '',
  ];
}

/**
 * The status as text: a summary line, a header and one row per worker (in name order),
 * lines joined with '\n', no trailing newline.
 */
export function renderStatusTable(
  status: StatusLike,
  configs: Readonly<Record<string, WorkerColumnsLike | undefined>> = {},
): string {
  // Entries and own keys only: a worker named "__proto__" or "toString" is a worker like any other.
  const workers = Object.entries(status.workerStates).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const rows: string[][] = [[...HEADERS]];
  for (const [name, state] of workers) {
    rows.push(rowOf(name, state, Object.hasOwn(configs, name) ? configs[name] : undefined));
  }

  const lines = columns(HEADERS, rows, RIGHT_ALIGNED);

  const summary =
    `corral ${status.state}: ${status.workers} workers, ` +
    `${status.running} running, ${status.queued} queued`;
  return [summary, ...lines].join('\n');
}
