import type { Logger } from 'pino';
import type { BreakerController } from './breaker-controller.ts';
import type { Clock } from './clock.ts';
import type { DeadLetterQueue } from './dead-letters.ts';
import { describeError } from './errors.ts';
import type { Emit } from './events.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import { ORIGINS, type Run, type RunOutcome } from './run.ts';
import type { Sequence } from './sequence.ts';
import type { RunRecord } from './store/store.ts';
import { WorkerExecutionMode } from './types.ts';
import type { WorkerRecord } from './worker-record.ts';

export interface CompletionContext {
  clock: Clock;
  log: Logger;
  emit: Emit;
  sequence: Sequence;
  queue: WorkQueue;
  deadLetters: DeadLetterQueue;
  breakers: BreakerController;
  running(): boolean;
  /** The run's idempotency key is free again. */
  forgetKey(run: Run): void;
  /** A finished run for the history, and the worker's new state, to the durable store. */
  history(record: RunRecord): void;
  save(worker: WorkerRecord): void;
  /** What the end of a run makes due: the worker's schedule, loops, pipelines. */
  activate(worker: WorkerRecord): void;
  loopRunFailed(worker: WorkerRecord): void;
  dispatch(): void;
}

/**
 * Told of every run that leaves the in-flight set (the stop report counts them); `handedOff`: it left
 * for another host (cluster mode: its retry), it did not end here.
 */
export type RunEndedListener = (run: Run, handedOff?: boolean) => void;

/**
 * The end of a run: records it (totals, history, last error), dead-letters a requested run that failed
 * its last attempt, feeds the breaker, tells the caller and the callers that joined it by key, and
 * makes due what follows (the next scheduled run, the partners it blocked, its pipeline). Also the one
 * way a run is cancelled wherever it is (`abort`).
 */
export class Completion {
  readonly #ctx: CompletionContext;
  #onRunEnded: RunEndedListener | undefined;

  constructor(context: CompletionContext) {
    this.#ctx = context;
  }

  /** Watches runs leaving flight (shutdown waits for them); undefined to stop watching. */
  watch(listener: RunEndedListener | undefined): void {
    this.#onRunEnded = listener;
  }

  /** The run is over: record it, tell the requester, feed the breaker, and schedule what follows. */
  finish(run: Run, outcome: RunOutcome): void {
    const ctx = this.#ctx;
    const { worker } = run;
    if (run.state === 'done') return;
    const wasInFlight = run.state !== 'queued';
    run.state = 'done';
    run.detachSignal?.();
    ctx.forgetKey(run);
    ctx.queue.settle(run, outcome);
    const now = ctx.clock.now();
    if (wasInFlight) worker.lastEndedAt = now;
    if (outcome.ok) {
      if (run.replayOf !== undefined) ctx.deadLetters.remove(run.replayOf);
      worker.totals.succeeded++;
      worker.lastSuccessAt = now;
      worker.lastSuccessSeq = ctx.sequence.next();
    } else if (outcome.reason !== 'aborted') {
      worker.totals.failed++;
      worker.lastError = describeError(outcome.error);
      worker.lastFailureReason = outcome.reason;
      if (ORIGINS[run.origin].requested) this.#deadLetter(run, outcome);
    }
    ctx.breakers.runEnded(run, outcome);
    if (wasInFlight) {
      const record: RunRecord = {
        worker: worker.name,
        runId: run.id,
        origin: run.origin,
        startedAt: run.startedAt,
        endedAt: now,
        outcome: outcome.ok ? 'succeeded' : outcome.reason === 'aborted' ? 'aborted' : 'failed',
        reason: outcome.ok ? undefined : outcome.reason,
        attempts: run.attempt,
        durationMs: now - run.startedAt,
      };
      worker.addHistory(record);
      ctx.history(record);
    }
    ctx.save(worker);
    run.settle?.(outcome);
    if (run.joined !== undefined) for (const settle of run.joined) settle(outcome);
    if (wasInFlight) {
      this.#onRunEnded?.(run);
      this.#afterRun(worker, run, outcome);
    }
  }

  /**
   * The run ran on another host (cluster mode) and ended there with `outcome`: that host recorded it;
   * here only its callers (and those joined by key) are told.
   */
  delivered(run: Run, outcome: RunOutcome): void {
    if (run.state === 'done') return;
    const ctx = this.#ctx;
    run.state = 'done';
    run.detachSignal?.();
    ctx.forgetKey(run);
    ctx.queue.settle(run, outcome);
    run.settle?.(outcome);
    if (run.joined !== undefined) for (const settle of run.joined) settle(outcome);
  }

  /** Cluster mode: an in-flight run was handed back to the cluster for its retry. */
  left(run: Run): void {
    this.#onRunEnded?.(run, true);
  }

  /** Cancels a run wherever it is: taken from its queue, its attempt ended, or its backoff cut short. */
  abort(run: Run, error: Error): void {
    const { queue } = this.#ctx;
    switch (run.state) {
      case 'queued':
        queue.withdraw(run);
        this.finish(run, { ok: false, reason: 'aborted', error, attempts: run.attempt });
        break;
      case 'running':
        // Between attempts (an event listener cancelling) there is no attempt to end yet: remembered.
        if (run.current === undefined) run.abortError ??= error;
        else run.current.cancel('aborted', error);
        break;
      case 'backoff':
      case 'retry-ready':
        queue.cancelRetry(run);
        this.finish(run, { ok: false, reason: 'aborted', error, attempts: run.attempt });
        this.#ctx.dispatch();
        break;
      case 'done':
        break;
    }
  }

  /** What a run's end makes possible: the worker's next scheduled run, its partners, its pipeline. */
  #afterRun(worker: WorkerRecord, run: Run, outcome: RunOutcome): void {
    const ctx = this.#ctx;
    if (!ctx.running()) return;
    ctx.queue.wake(worker);
    for (const other of worker.exclusive) ctx.queue.wake(other);
    for (const dependent of worker.dependents) ctx.queue.wake(dependent);
    if (run.origin === 'continuous' && worker.options.executionMode === WorkerExecutionMode.CONTINUOUS) {
      if (!outcome.ok && outcome.reason !== 'aborted' && worker.enabled) ctx.loopRunFailed(worker);
    }
    ctx.activate(worker);
    if (outcome.ok) {
      for (const dependent of worker.dependents) {
        if (dependent.options.executionMode === WorkerExecutionMode.TRIGGERED) ctx.activate(dependent);
      }
    }
  }

  #deadLetter(run: Run, outcome: Extract<RunOutcome, { ok: false }>): void {
    const ctx = this.#ctx;
    const entry = ctx.deadLetters.record(
      {
        name: run.worker.name,
        payload: run.payload,
        reason: outcome.reason,
        error: describeError(outcome.error),
        attempts: outcome.attempts,
        failedAt: new Date(ctx.clock.now()).toISOString(),
      },
      run.replayOf,
    );
    ctx.log.error(
      { worker: run.worker.name, runId: run.id, deadLetter: entry.id, reason: outcome.reason },
      'run failed after its last attempt: dead-lettered',
    );
    ctx.emit('worker:dead-letter', { name: run.worker.name, entry });
  }
}
