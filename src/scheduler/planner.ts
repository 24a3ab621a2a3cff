import type { Clock } from '../clock.ts';
import { backoffDelay } from '../retry.ts';
import type { RunOrigin } from '../run.ts';
import { WorkerExecutionMode } from '../types.ts';
import type { WorkerRecord } from '../worker-record.ts';
import { pipelineDue } from './gates.ts';
import { TimerQueue } from './timer-queue.ts';

export interface PlannerContext {
  clock: Clock;
  running(): boolean;
  /** A durable store remembers when each worker last ran (`missedRuns` applies at start). */
  durable(): boolean;
  /** Queues a run of the worker's own (schedule, loop, pipeline); admission owns how. */
  enqueue(worker: WorkerRecord, origin: RunOrigin): void;
  dispatch(): void;
  /** The worker's schedule or loops are kept elsewhere (cluster mode: in Redis), not by this planner. */
  elsewhere?(worker: WorkerRecord): boolean;
}

/**
 * Puts workers on their schedule, per execution mode: the next due time of an interval or cron worker
 * (one timer for all, see timer-queue.ts), the `concurrency` loops of a continuous one (with a backoff
 * after a failure), the pipeline run of a triggered worker whose dependencies all succeeded.
 */
export class Planner {
  readonly #ctx: PlannerContext;
  readonly #timers: TimerQueue<WorkerRecord>;

  constructor(context: PlannerContext) {
    this.#ctx = context;
    this.#timers = new TimerQueue(context.clock, (worker) => this.#onDue(worker));
  }

  start(): void {
    this.#timers.start();
  }

  /** At stop: no due time fires; they are computed again at the next start. */
  clear(): void {
    this.#timers.clear();
  }

  dueAt(worker: WorkerRecord): number | undefined {
    return this.#timers.dueAt(worker);
  }

  /** Disabled, or its breaker opened: no due time until it is enabled again. */
  cancel(worker: WorkerRecord): void {
    this.#timers.cancel(worker);
  }

  /**
   * Puts an enabled worker on its schedule: its next due time, its continuous runs, or its pipeline
   * run. `atStart`: an interval worker is due at once (README, Semantics: it runs at `start()`).
   */
  activate(worker: WorkerRecord, atStart: boolean): void {
    const ctx = this.#ctx;
    if (!worker.enabled || !ctx.running() || ctx.elsewhere?.(worker)) return;
    switch (worker.options.executionMode) {
      case WorkerExecutionMode.SCHEDULED: {
        const schedule = worker.schedule;
        const idle = worker.queue.scheduled === 0 && worker.scheduledInFlight === 0;
        if (schedule === undefined || !idle || this.#timers.dueAt(worker) !== undefined) break;
        const now = ctx.clock.now();
        const { lastRunAt, lastEndedAt } = worker;
        let at: number;
        if (lastEndedAt === undefined || lastRunAt === undefined) at = schedule.first(now);
        else if (!atStart) at = schedule.next(lastEndedAt, now);
        // At start, only a durable store knows when the worker last ran (README: missedRuns).
        else if (ctx.durable()) at = schedule.resume(lastRunAt, lastEndedAt, now, worker.options.missedRuns);
        else at = schedule.first(now);
        this.#timers.schedule(worker, Math.max(now, at));
        break;
      }
      case WorkerExecutionMode.CONTINUOUS:
        // A pending backoff (after a failed run) holds the loop until it is due.
        if (this.#timers.dueAt(worker) !== undefined) break;
        while (worker.queue.scheduled + worker.inFlight < worker.options.concurrency) {
          ctx.enqueue(worker, 'continuous');
        }
        break;
      case WorkerExecutionMode.TRIGGERED:
        if (pipelineDue(worker) && !worker.queue.pipelineWaiting) ctx.enqueue(worker, 'pipeline');
        break;
    }
  }

  /** A run of the worker's own ended: after a failed loop run a continuous worker waits out a backoff. */
  loopRunFailed(worker: WorkerRecord): void {
    if (this.#ctx.elsewhere?.(worker)) return;
    const delay = backoffDelay(worker.options.retryDelayMs, worker.breaker.consecutiveFailures + 1);
    this.#timers.schedule(worker, this.#ctx.clock.now() + delay);
  }

  /** The breaker went half-open: the worker's next run is its trial, due now. */
  trialDue(worker: WorkerRecord): void {
    if (this.#ctx.elsewhere?.(worker)) return;
    if (worker.options.executionMode === WorkerExecutionMode.SCHEDULED && worker.queue.scheduled === 0) {
      this.#timers.schedule(worker, this.#ctx.clock.now());
    } else {
      this.activate(worker, false);
    }
  }

  #onDue(worker: WorkerRecord): void {
    const ctx = this.#ctx;
    if (!ctx.running() || !worker.enabled || ctx.elsewhere?.(worker)) return;
    const mode = worker.options.executionMode;
    if (mode === WorkerExecutionMode.SCHEDULED && worker.queue.scheduled === 0) {
      ctx.enqueue(worker, 'schedule');
    } else if (mode === WorkerExecutionMode.CONTINUOUS) {
      this.activate(worker, false);
    }
    ctx.dispatch();
  }
}
