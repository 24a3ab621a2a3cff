import type { Logger } from 'pino';
import { Attempt, type AttemptOutcome } from './attempt.ts';
import type { Clock } from './clock.ts';
import { toError } from './errors.ts';
import type { Emit } from './events.ts';
import { HealthMonitor } from './health/monitor.ts';
import type { Containment } from './isolation/cgroup.ts';
import { createPool } from './isolation/factory.ts';
import type { Pool } from './isolation/pool.ts';
import type { AttemptTask } from './isolation/protocol.ts';
import { Reaper } from './isolation/reaper.ts';
import type { Sandbox } from './isolation/sandbox.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import { backoffDelay, shouldRetry } from './retry.ts';
import type { Run, RunOutcome } from './run.ts';
import type { WorkerRecord } from './worker-record.ts';

export interface AttemptRunnerContext {
  clock: Clock;
  log: Logger;
  emit: Emit;
  queue: WorkQueue;
  /** Health sampling on, and how often (threads report their heap as often). */
  health: { enabled: boolean; sampleMs: number };
  stopped(): boolean;
  /** The run is over (succeeded, or failed its last attempt): completion takes it from here. */
  finish(run: Run, outcome: RunOutcome): void;
  dispatch(): void;
}

/**
 * Runs attempts: takes a sandbox from the worker's pool, hands it the task under its deadline and
 * heartbeat watch (attempt.ts), watches its health, decides whether a failed attempt is retried and
 * after what backoff (retry.ts), and gives the sandbox back — or kills it when the attempt was ended by
 * force (timeout, memory, stall, abort), after the caller has its outcome.
 */
export class AttemptRunner {
  readonly #ctx: AttemptRunnerContext;
  readonly #pools = new Map<WorkerRecord, Pool>();
  readonly #attempts = new Map<Attempt, Run>();
  readonly #reaper = new Reaper();
  readonly #health: HealthMonitor;
  #inFlight = 0;

  constructor(context: AttemptRunnerContext) {
    this.#ctx = context;
    this.#health = new HealthMonitor({
      enabled: context.health.enabled,
      sampleMs: context.health.sampleMs,
      clock: context.clock,
      active: () => [...this.#attempts].map(([attempt, run]) => [attempt, run.worker]),
    });
  }

  /** Attempts running now (a run waiting out a backoff has none). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** How process sandboxes are contained (README: Containment). */
  get containment(): Containment {
    return this.#reaper.containment;
  }

  /** Sampling may resume after `close()` (a restarted orchestrator). */
  reopen(): void {
    this.#health.reopen();
  }

  start(run: Run): void {
    const { worker } = run;
    run.attempt++;
    run.state = 'running';
    this.#inFlight++;
    this.#ctx.queue.attemptStarted(run);
    let sandbox: Sandbox;
    try {
      sandbox = this.#pool(worker).acquire();
    } catch (error) {
      // The sandbox could not even be created (e.g. fork refused its arguments): this attempt fails
      // as one that could not load, and the run goes on to its outcome like any other.
      const cause = toError(error, 'the sandbox could not be created');
      this.#ended(run, undefined, { ok: false, reason: 'load', error: cause, durationMs: 0 });
      return;
    }
    const { heartbeatTimeoutSeconds, timeoutSeconds } = worker.options;
    const heartbeatTimeoutMs =
      heartbeatTimeoutSeconds === undefined ? undefined : heartbeatTimeoutSeconds * 1000;
    const task: AttemptTask = {
      id: run.seq,
      attempt: run.attempt,
      payload: run.payload,
      heartbeatEveryMs:
        heartbeatTimeoutMs === undefined ? 0 : Math.max(1, Math.min(100, heartbeatTimeoutMs / 5)),
      enabled: worker.enabled,
      consecutiveFailures: worker.breaker.consecutiveFailures,
      lastRunAt: worker.lastRunAt,
      lastSuccessAt: worker.lastSuccessAt,
      lastError: worker.lastError,
    };
    if (sandbox.runs === 0 && sandbox.kind !== 'inline') task.config = worker.staticConfig();
    const attempt = new Attempt(
      sandbox,
      task,
      { timeoutMs: timeoutSeconds * 1000, heartbeatTimeoutMs },
      this.#ctx.clock,
      (outcome) => this.#ended(run, attempt, outcome),
    );
    run.current = attempt;
    this.#attempts.set(attempt, run);
    // Listeners may cancel the run from here: the attempt is registered, so that reaches it.
    this.#ctx.emit('worker:start', { name: worker.name, runId: run.id, attempt: run.attempt });
    if (run.abortError !== undefined) attempt.cancel('aborted', run.abortError);
    attempt.start();
    if (!attempt.settled && sandbox.probe !== undefined) this.#health.wake();
  }

  /** Ends every sandbox (and the health sampler, the reaper) and resolves once none is left. */
  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.closeAll()));
    this.#pools.clear();
    await this.#health.close();
    await this.#reaper.close();
  }

  #pool(worker: WorkerRecord): Pool {
    let pool = this.#pools.get(worker);
    if (pool === undefined) {
      const { clock, log, health } = this.#ctx;
      pool = createPool(worker, {
        clock,
        logger: log,
        reaper: this.#reaper,
        heapReportMs: health.enabled ? health.sampleMs : 0,
      });
      this.#pools.set(worker, pool);
    }
    return pool;
  }

  #ended(run: Run, attempt: Attempt | undefined, outcome: AttemptOutcome): void {
    const { worker } = run;
    const ctx = this.#ctx;
    this.#inFlight--;
    run.current = undefined;
    if (attempt !== undefined) this.#attempts.delete(attempt);
    if (outcome.ok) {
      ctx.emit('worker:success', {
        name: worker.name,
        runId: run.id,
        attempt: run.attempt,
        durationMs: outcome.durationMs,
        result: outcome.value,
      });
      ctx.finish(run, { ok: true, value: outcome.value });
    } else {
      this.#failed(run, outcome);
    }
    // The caller has its outcome first; killing the sandbox (a /proc walk, signals) comes after.
    if (attempt !== undefined) this.#returnSandbox(worker, attempt.sandbox, run.seq, outcome);
    ctx.dispatch();
  }

  #failed(run: Run, outcome: Extract<AttemptOutcome, { ok: false }>): void {
    const { worker } = run;
    const ctx = this.#ctx;
    if (outcome.reason === 'timeout') worker.totals.timeouts++;
    if (outcome.reason === 'crash') worker.totals.crashes++;
    const willRetry =
      !ctx.stopped() && shouldRetry(outcome.reason, outcome.error, run.attempt, worker.options.maxRetries);
    ctx.log.warn(
      { worker: worker.name, runId: run.id, attempt: run.attempt, reason: outcome.reason, willRetry },
      `attempt failed: ${outcome.error.message}`,
    );
    ctx.emit('worker:failure', {
      name: worker.name,
      runId: run.id,
      attempt: run.attempt,
      reason: outcome.reason,
      error: outcome.error,
      willRetry,
    });
    if (willRetry && run.abortError === undefined) {
      worker.totals.retries++;
      ctx.queue.retryAfter(run, backoffDelay(worker.options.retryDelayMs, run.attempt + 1), outcome.error);
    } else if (willRetry) {
      // Cancelled while this attempt was failing (e.g. from a worker:failure listener).
      ctx.finish(run, {
        ok: false,
        reason: 'aborted',
        error: run.abortError as Error,
        attempts: run.attempt,
      });
    } else {
      ctx.finish(run, { ok: false, reason: outcome.reason, error: outcome.error, attempts: run.attempt });
    }
  }

  /** Keeps a sandbox that ended an attempt normally; kills one whose attempt was ended by force. */
  #returnSandbox(worker: WorkerRecord, sandbox: Sandbox, id: number, outcome: AttemptOutcome): void {
    const pool = this.#pools.get(worker);
    if (pool === undefined) return;
    if (outcome.ok || outcome.reason === 'error') {
      pool.release(sandbox);
      return;
    }
    if (outcome.reason !== 'crash' && outcome.reason !== 'load') sandbox.abort(id);
    void pool.discard(sandbox);
  }
}
