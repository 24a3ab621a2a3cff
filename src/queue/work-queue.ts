import type { Run, RunOutcome } from '../run.ts';
import type { WorkerRecord } from '../worker-record.ts';

/** Decides whether a waiting run of `worker` may start now (the dispatcher's gates). */
export type StartGate = (worker: WorkerRecord, run: Run) => boolean;

/**
 * What waits and what is in flight: the seam between the dispatcher, the attempt runner and completion
 * on one side, and where runs are kept on the other (memory, plus a durable store's journal). None of
 * those three knows which implementation it has (see docs/architecture.md, "The queue seam").
 *
 * A run moves through it one way: `add` (waiting) → `next` + `begin` (in flight) → `retryAfter`
 * (waiting out a backoff, still in flight) → `settle` (over). `withdraw` and `cancelRetry` take a run
 * out early (cancelled, refused, stopped).
 */
export interface WorkQueue {
  /** Runs of stored origins outlive the process (a durable store is set). */
  readonly durable: boolean;
  /** Runs started and not yet settled, including those waiting out a retry backoff. */
  readonly inFlight: ReadonlySet<Run>;

  /** A new run waits. `encodedPayload` is the payload as a durable store keeps it. */
  add(run: Run, encodedPayload?: Buffer): void;
  /** A run taken back from the durable store at start waits again (it is in the store already). */
  addRestored(run: Run): void;
  /** Takes a run out that has not started; false when it was not waiting. */
  withdraw(run: Run): boolean;
  /** The best run that may start now, best first: higher priority, then the one waiting longest. */
  next(canStart: StartGate): Run | undefined;
  /** Something changed that may let a waiting run of `worker` start: give it another look. */
  wake(worker: WorkerRecord): void;
  /** The run leaves the waiting runs for its first attempt: in flight from now. */
  begin(run: Run): void;
  /** An attempt of an in-flight run starts (a durable store counts attempts). */
  attemptStarted(run: Run): void;
  /**
   * The run's attempt failed (with `error`) and it tries again once `delayMs` have passed. A cluster
   * queue hands the run back to the cluster here: the retry may run on any host, and the run leaves
   * this host's in-flight set (its `left` callback says so).
   */
  retryAfter(run: Run, delayMs: number, error?: Error): void;
  /** A run waiting out its backoff will not retry (cancelled): true if it was waiting. */
  cancelRetry(run: Run): boolean;
  /**
   * The run is over: no longer in flight, and forgotten by the store unless kept. `outcome` is how it
   * ended (a cluster queue reports it to the cluster).
   */
  settle(run: Run, outcome?: RunOutcome): void;
  /** At stop: keeps `run` for the next start when the queue is durable and its origin stored. */
  keepForNextStart(run: Run): boolean;
  /** Takes out every waiting run (at stop), oldest first per worker. */
  drain(): Run[];
  /** How many runs of `worker` wait. */
  waiting(worker: WorkerRecord): number;
  /** How many requested runs of `worker` wait: what `maxQueue` bounds. */
  waitingRequests(worker: WorkerRecord): number;
}
