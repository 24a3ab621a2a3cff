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
  resources?: { cpuPercent: number; memoryBytes: number } | undefined;
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
  'CPU %',
  'mem MiB',
  'last failure',
] as const;

// Columns holding numbers are right-aligned so digits line up.
const RIGHT_ALIGNED = new Set(['ok/failed', 'retries', 'timeouts', 'crashes', 'CPU %', 'mem MiB']);

const MIB = 1024 * 1024;

function stateOf(w: WorkerStateLike): string {
  if (!w.enabled) return 'disabled';
  const inFlight = w.runningCount ?? (w.running ? 1 : 0);
  if (inFlight > 1) return `running x${inFlight}`;
  return inFlight === 1 || w.running ? 'running' : 'idle';
}

function rowOf(name: string, w: WorkerStateLike, config: WorkerColumnsLike | undefined): string[] {
  const t = w.totals;
  const r = w.resources;
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
    r ? r.cpuPercent.toFixed(0) : '-',
    r ? (r.memoryBytes / MIB).toFixed(1) : '-',
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
