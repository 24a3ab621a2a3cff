/**
 * Runs inside a piscina worker thread: piscina calls the default export with each attempt.
 * `workerData` names the worker module and how often to report heap use while a run is in progress.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createExecutor } from './execute.ts';
import { type AttemptResult, type PackedTask, type SandboxMessage, unpackTask } from './protocol.ts';

export interface ThreadData {
  modulePath: string;
  heapReportMs: number;
}

const data = workerData as ThreadData;
const send = (message: SandboxMessage): void => parentPort?.postMessage(message);
const executor = createExecutor(data.modulePath, send, { checkCloneable: true, reportStarted: true });
// Never aborted: a thread is terminated outright on timeout, cancellation or stop.
const neverAborted = new AbortController().signal;

let inFlight = 0;
let heapTimer: NodeJS.Timeout | undefined;

/**
 * In a thread, `process.memoryUsage().heapUsed` is this thread's own heap. It is used rather than
 * `node:v8`'s getHeapStatistics() because loading `node:v8` costs a new thread a few ms of its start
 * (measured: ~10 % of a thread's whole start-and-run with `recycleAfterRuns: 1`).
 */
function reportHeap(): void {
  if (inFlight > 0) send(['heap', process.memoryUsage().heapUsed]);
}

export default async function runAttempt(packed: PackedTask): Promise<AttemptResult> {
  inFlight++;
  if (heapTimer === undefined && data.heapReportMs > 0) {
    heapTimer = setInterval(reportHeap, data.heapReportMs);
    heapTimer.unref();
    // A first figure now, so the first sample of a new thread is not empty.
    reportHeap();
  }
  try {
    return await executor.execute(unpackTask(packed), neverAborted);
  } finally {
    inFlight--;
  }
}
