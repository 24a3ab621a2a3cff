import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Attempt, type AttemptOutcome } from './attempt.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { DeadLetterQueue } from './dead-letters.ts';
import { describeError, OrchestratorError, RunError } from './errors.ts';
import type { OrchestratorEventName, OrchestratorEvents, OrchestratorListener } from './events.ts';
import { HealthMonitor } from './health/monitor.ts';
import type { HttpServerHandle, ListenOptions } from './http/server.ts';
import { createPool } from './isolation/factory.ts';
import type { AttemptTask } from './isolation/protocol.ts';
import { Reaper } from './isolation/reaper.ts';
import type { Sandbox } from './isolation/sandbox.ts';
import { resolveLogger } from './logger.ts';
import { type ResolvedOrchestratorOptions, resolveOrchestratorOptions, resolveWorker } from './options.ts';
import { backoffDelay, shouldRetry } from './retry.ts';
import { isRequested, isStored, newRun, type Run, type RunOrigin, type RunOutcome } from './run.ts';
import { canStart, pipelineDue } from './scheduler/gates.ts';
import { validateGraph, validateNames } from './scheduler/graph.ts';
import { ReadyQueue } from './scheduler/ready-queue.ts';
import { TimerQueue } from './scheduler/timer-queue.ts';
import { Persistence } from './store/persistence.ts';
import type { RunRecord, StoredRun, StoredState } from './store/store.ts';
import {
  type DeadLetter,
  type OrchestratorOptions,
  type OrchestratorStatus,
  type RunOptions,
  type StopReport,
  type WorkerConfig,
  WorkerExecutionMode,
  type WorkerFn,
  type WorkerOptions,
  type WorkerStatus,
} from './types.ts';
import { NO_LINKS, WorkerRecord } from './worker-record.ts';

type State = 'stopped' | 'running' | 'stopping';

interface StopTracker {
  completed: string[];
  terminated: string[];
  terminatedRuns: Set<Run>;
}

export interface WorkerOrchestrator {
  on<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): this;
  once<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): this;
  off<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): this;
}

/**
 * Supervises background workers: schedules them, runs each in its sandbox (inline, thread or process),
 * enforces timeouts by killing, retries with backoff, opens a breaker on repeated failure, keeps dead
 * letters, and stops gracefully. It wires the parts together; policy lives in the modules it uses.
 *
 * @example
 * const orch = new WorkerOrchestrator({ maxConcurrentWorkers: 4 });
 * orch.registerWorker('report', './workers/report.mjs', { isolation: 'process', timeoutSeconds: 30 });
 * await orch.start();
 * const result = await orch.run('report', { month: '2026-11' });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed event overloads merged onto the class
export class WorkerOrchestrator extends EventEmitter {
  readonly #options: ResolvedOrchestratorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #ready = new ReadyQueue();
  readonly #timers: TimerQueue<WorkerRecord>;
  readonly #reaper = new Reaper();
  readonly #health: HealthMonitor;
  readonly #runsInFlight = new Set<Run>();
  readonly #attempts = new Map<Attempt, Run>();
  readonly #deadLetters: DeadLetterQueue;
  #state: State = 'stopped';
  #seq = 0;
  #attemptsInFlight = 0;
  #dispatching = false;
  #dispatchAgain = false;
  #stopping: Promise<StopReport> | undefined;
  #stopTracker: StopTracker | undefined;
  #whenIdle: (() => void) | undefined;
  readonly #persistence: Persistence;
  #starting: Promise<void> | undefined;
  /** Runs that have an idempotency key, by worker and key, while they are queued or running. */
  readonly #keyed = new Map<string, Run>();
  /** Run ids are this prefix and a sequence number: unique, and cheaper than a UUID per run. */
  readonly #idPrefix = `${randomUUID().slice(0, 8)}-`;

  constructor(options: OrchestratorOptions = {}) {
    super();
    this.#options = resolveOrchestratorOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#log = resolveLogger(options.logger);
    this.#timers = new TimerQueue(this.#clock, (worker) => this.#onDue(worker));
    this.#health = new HealthMonitor({
      enabled: this.#options.enableHealthChecks,
      sampleMs: this.#options.healthSampleMs,
      clock: this.#clock,
      active: () => [...this.#attempts].map(([attempt, run]) => [attempt, run.worker]),
    });
    this.#persistence = new Persistence(options.store, this.#log);
    this.#deadLetters = new DeadLetterQueue(
      {
        replay: (entry) => this.#replay(entry),
        stored: (entry) => {
          this.#persistence.deadLetterStored(entry);
        },
        removed: (entry, evicted) => {
          if (evicted) {
            this.#log.warn(
              { worker: entry.name, deadLetter: entry.id },
              'dead-letter queue full: oldest entry dropped',
            );
          }
          this.#persistence.deadLetterRemoved(entry.id, () => this.#deadLetters.remove(entry.id));
        },
      },
      this.#options.maxDeadLetters,
    );
  }

  /** Runs that failed after their last attempt. */
  get deadLetters(): DeadLetterQueue {
    return this.#deadLetters;
  }

  /**
   * Registers a worker: a function (runs inline) or a module path / file URL (runs isolated).
   * Throws `OrchestratorError` at once for invalid input.
   */
  registerWorker(name: string, worker: WorkerFn | string | URL, options?: WorkerOptions): void {
    const resolved = resolveWorker(name, worker, options);
    if (this.#workers.has(name)) {
      throw new OrchestratorError('ERR_DUPLICATE_WORKER', `worker "${name}" is already registered`);
    }
    const record = new WorkerRecord(name, resolved.source, resolved.options);
    if (this.#state === 'stopped') {
      this.#workers.set(name, record);
      return;
    }
    // While running, every registered worker's names were checked already, so none can name this new
    // one: only a dependency on itself can make a cycle, and only its own names need checking.
    if (record.options.dependsOn.includes(name)) {
      throw new OrchestratorError('ERR_DEPENDENCY_CYCLE', `dependency cycle: ${name} -> ${name}`);
    }
    this.#workers.set(name, record);
    try {
      validateNames(this.#workers, name);
    } catch (error) {
      this.#workers.delete(name);
      throw error;
    }
    this.#link(record);
    this.#activate(record, true);
    this.#dispatch();
  }

  /** Starts scheduling. Rejects with ERR_UNKNOWN_DEPENDENCY / ERR_DEPENDENCY_CYCLE for a bad graph. */
  start(): Promise<void> {
    // Two start() calls at once share one: the store must be opened (and its runs restored) once.
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#stopping !== undefined) await this.#stopping;
    if (this.#state === 'running') return;
    validateGraph(this.#workers);
    const stored = await this.#persistence.open();
    if (stored !== undefined) {
      this.#restore(stored);
      // enable/disable/remove calls made while the store was closed win over what it held.
      this.#persistence.replayWhileClosed();
    }
    for (const worker of this.#workers.values()) {
      worker.deps = NO_LINKS;
      worker.dependents = NO_LINKS;
      worker.exclusive = NO_LINKS;
    }
    for (const worker of this.#workers.values()) this.#link(worker);
    this.#health.reopen();
    this.#state = 'running';
    for (const worker of this.#workers.values()) {
      if (worker.breaker.state === 'open' && worker.breaker.cooldownMs !== null) {
        // An open breaker with a cooldown always has a trial coming (also one that was half-open when
        // the host stopped or died: its trial is due at once).
        worker.cooldownUntil ??= this.#clock.now();
        this.#armCooldown(worker);
      }
      this.#activate(worker, true);
      this.#ready.offerWorker(worker);
    }
    this.#timers.start();
    this.#log.info({ workers: this.#workers.size }, 'orchestrator started');
    this.#emit('orchestrator:started', {});
    this.#dispatch();
  }

  /**
   * Stops gracefully: starts nothing new, rejects queued runs (reason `aborted`), lets running ones
   * finish for up to `shutdownTimeoutMs`, terminates the rest, and resolves once no thread or child
   * process of the orchestrator is left.
   */
  stop(): Promise<StopReport> {
    if (this.#stopping !== undefined) return this.#stopping;
    if (this.#state === 'stopped') {
      return Promise.resolve({ completed: [], terminated: [], requeued: 0, dropped: 0 });
    }
    this.#stopping = this.#stop().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  /**
   * Queues a run of `name` with `payload` and resolves `true` once it has ended, successfully or not;
   * `false` at once if the worker is unknown or disabled, or the orchestrator is not running.
   */
  async triggerWorker(name: string, payload?: unknown): Promise<boolean> {
    const worker = this.#workers.get(name);
    if (worker === undefined || !worker.enabled || this.#state !== 'running') return false;
    return new Promise<boolean>((resolve, reject) => {
      const run = this.#request(worker, 'trigger', payload, () => resolve(true), undefined, undefined);
      if (run instanceof OrchestratorError) reject(run);
    });
  }

  /** Queues a run and settles with its outcome: the worker's return value, or a `RunError`. */
  run(name: string, payload?: unknown, options: RunOptions = {}): Promise<unknown> {
    if (options.key !== undefined && (typeof options.key !== 'string' || options.key === '')) {
      return Promise.reject(
        new OrchestratorError(
          'ERR_INVALID_OPTION',
          `key must be a non-empty string, got ${String(options.key)}`,
        ),
      );
    }
    return this.#requestRun(name, 'run', payload, options.signal, undefined, options.key);
  }

  /** Re-enables a worker, closes its breaker and resets its consecutive failures. */
  enableWorker(name: string): void {
    const worker = this.#get(name);
    this.#persistence.whileClosed(() => this.enableWorker(name));
    const wasEnabled = worker.enabled;
    worker.manuallyEnabled = true;
    worker.breaker.reset();
    this.#clearCooldown(worker);
    worker.cooldownUntil = undefined;
    this.#saveWorker(worker);
    if (!wasEnabled) {
      this.#log.info({ worker: name }, 'worker enabled');
      this.#emit('worker:enabled', { name });
    }
    if (this.#state === 'running') {
      this.#activate(worker, false);
      this.#unblock(worker);
      this.#dispatch();
    }
  }

  /**
   * Disables a worker: no scheduled runs, `triggerWorker` resolves false, `run` rejects; queued runs
   * wait for it to be enabled again, and runs in flight (with their retries) finish.
   */
  disableWorker(name: string): void {
    const worker = this.#get(name);
    this.#persistence.whileClosed(() => this.disableWorker(name));
    worker.manuallyEnabled = false;
    this.#timers.cancel(worker);
    this.#saveWorker(worker);
    this.#log.info({ worker: name }, 'worker disabled');
  }

  /**
   * The latest finished runs (start, end, outcome, reason, attempts, duration), oldest first: of one
   * worker, or of all. Kept by a durable store across restarts; the last 20 of each worker.
   */
  getHistory(name?: string): RunRecord[] {
    if (name !== undefined) return [...(this.#workers.get(name)?.history ?? [])];
    return [...this.#workers.values()].flatMap((w) => w.history ?? []).sort((a, b) => a.endedAt - b.endedAt);
  }

  /**
   * Resolves once every change made so far is in the durable store (changes are written in batches,
   * one event-loop turn after they are made). Resolves at once with the in-memory store.
   */
  flush(): Promise<void> {
    return this.#persistence.flush();
  }

  /**
   * Serves the HTTP API and dashboard (status, health, metrics, events, mutations with a bearer token)
   * on `host` (default `127.0.0.1`) and `port` (default: a free one). See `createHttpHandler`.
   */
  async listen(options: ListenOptions = {}): Promise<HttpServerHandle> {
    const { listen } = await import('./http/server.ts'); // loaded on use: see createHttpHandler
    return listen(this, options);
  }

  getWorker(name: string): Readonly<WorkerConfig> | undefined {
    return this.#workers.get(name)?.config();
  }

  getStatus(): OrchestratorStatus {
    const workerStates: Record<string, WorkerStatus> = {};
    let running = 0;
    let queued = 0;
    for (const worker of this.#workers.values()) {
      const status: WorkerStatus = {
        enabled: worker.enabled,
        running: worker.inFlight > 0,
        failures: worker.breaker.consecutiveFailures,
        runningCount: worker.inFlight,
        queued: worker.queue.size,
        breaker: worker.breaker.state,
        totals: { ...worker.totals },
      };
      if (worker.lastRunAt !== undefined) status.lastRun = isoDate(worker.lastRunAt);
      if (worker.lastSuccessAt !== undefined) status.lastSuccess = isoDate(worker.lastSuccessAt);
      if (worker.lastError !== undefined) status.lastError = worker.lastError;
      if (worker.lastFailureReason !== undefined) status.lastFailureReason = worker.lastFailureReason;
      const due = this.#timers.dueAt(worker);
      if (due !== undefined && due < MAX_DATE_MS) status.nextRunAt = isoDate(due);
      if (worker.resources !== undefined) status.resources = { ...worker.resources };
      workerStates[worker.name] = status;
      running += worker.inFlight;
      queued += worker.queue.size;
    }
    return { state: this.#state, workers: this.#workers.size, running, queued, workerStates };
  }

  // ---------------------------------------------------------------- requests

  #get(name: string): WorkerRecord {
    const worker = this.#workers.get(name);
    if (worker === undefined) throw new OrchestratorError('ERR_UNKNOWN_WORKER', `no worker named "${name}"`);
    return worker;
  }

  #requestRun(
    name: string,
    origin: RunOrigin,
    payload: unknown,
    signal: AbortSignal | undefined,
    replayOf: string | undefined,
    key?: string,
  ): Promise<unknown> {
    const worker = this.#workers.get(name);
    if (worker === undefined) {
      return Promise.reject(new OrchestratorError('ERR_UNKNOWN_WORKER', `no worker named "${name}"`));
    }
    if (this.#state !== 'running') {
      return Promise.reject(new OrchestratorError('ERR_NOT_RUNNING', `the orchestrator is ${this.#state}`));
    }
    if (!worker.enabled) {
      const why = worker.breaker.state === 'open' ? 'its circuit breaker is open' : 'it is disabled';
      return Promise.reject(
        new OrchestratorError('ERR_WORKER_DISABLED', `worker "${name}" cannot run: ${why}`),
      );
    }
    if (signal?.aborted) {
      return Promise.reject(new RunError(name, 'aborted', 0, signal.reason));
    }
    return new Promise((resolve, reject) => {
      const settle = (outcome: RunOutcome) => {
        if (outcome.ok) resolve(outcome.value);
        else reject(new RunError(name, outcome.reason, outcome.attempts, outcome.error));
      };
      const joinable = key === undefined ? undefined : this.#keyed.get(keyOf(name, key));
      if (joinable !== undefined) {
        // Same key, still queued or running: this caller gets that run's outcome. Its own signal only
        // withdraws this caller; the run goes on for the others.
        const joined = joinable.joined ?? [];
        joinable.joined = joined;
        joined.push(settle);
        signal?.addEventListener(
          'abort',
          () => {
            const i = joined.indexOf(settle);
            if (i === -1) return;
            joined.splice(i, 1);
            reject(new RunError(name, 'aborted', 0, signal.reason));
          },
          { once: true },
        );
        return;
      }
      const run = this.#request(worker, origin, payload, settle, replayOf, signal, key);
      if (run instanceof OrchestratorError) reject(run);
    });
  }

  /**
   * Queues a requested run (listening to its signal before anything can start it) and dispatches;
   * returns ERR_QUEUE_FULL instead when the run would wait beyond the worker's `maxQueue`.
   */
  #request(
    worker: WorkerRecord,
    origin: RunOrigin,
    payload: unknown,
    settle: (outcome: RunOutcome) => void,
    replayOf: string | undefined,
    signal: AbortSignal | undefined,
    key?: string,
  ): Run | OrchestratorError {
    let encoded: Buffer | undefined;
    try {
      encoded = this.#persistence.encode(payload);
    } catch (error) {
      return error as OrchestratorError;
    }
    const run = this.#enqueue(worker, origin, payload, settle, replayOf, key, undefined, encoded);
    if (signal !== undefined) {
      const onAbort = () =>
        this.#abortRun(run, toError(signal.reason, 'the run was cancelled by its signal'));
      signal.addEventListener('abort', onAbort, { once: true });
      run.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    this.#dispatch();
    // maxQueue bounds runs that wait: checked after dispatch, so that a run that can start at once
    // (even with maxQueue 0) does. Known limit: called from inside an event listener, the dispatch is
    // deferred (never re-entered), so with maxQueue 0 such a call is refused even when a slot is free.
    if (run.queued && worker.queue.requested > worker.options.maxQueue) {
      worker.queue.remove(run);
      run.state = 'done';
      run.detachSignal?.();
      this.#forget(run);
      return new OrchestratorError(
        'ERR_QUEUE_FULL',
        `worker "${worker.name}" already has ${worker.options.maxQueue} queued run(s) (maxQueue)`,
      );
    }
    return run;
  }

  #replay(entry: DeadLetter): Promise<unknown> {
    return this.#requestRun(entry.name, 'replay', entry.payload, undefined, entry.id);
  }

  // ---------------------------------------------------------------- scheduling

  #enqueue(
    worker: WorkerRecord,
    origin: RunOrigin,
    payload: unknown,
    settle: ((outcome: RunOutcome) => void) | undefined,
    replayOf: string | undefined,
    key?: string,
    restored?: StoredRun,
    encodedPayload?: Buffer,
  ): Run {
    const seq = ++this.#seq;
    const now = this.#clock.now();
    const run = newRun({
      id: restored?.id ?? `${this.#idPrefix}${seq.toString(36)}`,
      worker,
      payload,
      origin,
      seq,
      startedAt: now,
      enqueuedAt: restored?.enqueuedAt ?? now,
      replayOf,
      settle,
      key,
    });
    if (restored !== undefined) run.attempt = restored.attempts;
    if (key !== undefined) this.#keyed.set(keyOf(worker.name, key), run);
    worker.queue.push(run);
    if (restored === undefined && isStored(origin)) {
      this.#persistence.runQueued({ ...this.#storedRun(run), encodedPayload });
    }
    // A new run may be startable where the waiting ones were not (a request does not wait for
    // dependency freshness), so a blocked worker gets another look.
    this.#unblock(worker);
    return run;
  }

  /** Links `worker` with its dependencies and the workers it excludes (names already validated). */
  #link(worker: WorkerRecord): void {
    // Lists are replaced, never pushed to: workers without links share one empty array.
    if (worker.options.dependsOn.length > 0) {
      worker.deps = worker.options.dependsOn.flatMap((n) => this.#workers.get(n) ?? []);
    }
    for (const dep of worker.deps) dep.dependents = [...dep.dependents, worker];
    for (const blocked of worker.options.blocks) {
      const other = this.#workers.get(blocked);
      if (other === undefined) continue;
      if (!worker.exclusive.includes(other)) worker.exclusive = [...worker.exclusive, other];
      if (!other.exclusive.includes(worker)) other.exclusive = [...other.exclusive, worker];
    }
  }

  /**
   * Puts an enabled worker on its schedule: its next due time, its continuous runs, or its pipeline
   * run. `atStart`: an interval worker is due at once (DESIGN 2.1: it runs at `start()`).
   */
  #activate(worker: WorkerRecord, atStart: boolean): void {
    if (!worker.enabled || this.#state !== 'running') return;
    switch (worker.options.executionMode) {
      case WorkerExecutionMode.SCHEDULED: {
        const schedule = worker.schedule;
        const idle = worker.queue.scheduled === 0 && worker.scheduledInFlight === 0;
        if (schedule === undefined || !idle || this.#timers.dueAt(worker) !== undefined) break;
        const now = this.#clock.now();
        const { lastRunAt, lastEndedAt } = worker;
        let at: number;
        if (lastEndedAt === undefined || lastRunAt === undefined) at = schedule.first(now);
        else if (!atStart) at = schedule.next(lastEndedAt, now);
        // At start, only a durable store knows when the worker last ran (DESIGN 2.1).
        else if (this.#persistence.durable)
          at = schedule.resume(lastRunAt, lastEndedAt, now, worker.options.missedRuns);
        else at = schedule.first(now);
        this.#timers.schedule(worker, Math.max(now, at));
        break;
      }
      case WorkerExecutionMode.CONTINUOUS:
        // A pending backoff (after a failed run) holds the loop until it is due.
        if (this.#timers.dueAt(worker) !== undefined) break;
        while (worker.queue.scheduled + worker.inFlight < worker.options.concurrency) {
          this.#enqueue(worker, 'continuous', undefined, undefined, undefined);
        }
        break;
      case WorkerExecutionMode.TRIGGERED:
        if (pipelineDue(worker) && !worker.queue.pipelineWaiting) {
          this.#enqueue(worker, 'pipeline', undefined, undefined, undefined);
        }
        break;
    }
  }

  #onDue(worker: WorkerRecord): void {
    if (this.#state !== 'running' || !worker.enabled) return;
    const mode = worker.options.executionMode;
    if (mode === WorkerExecutionMode.SCHEDULED && worker.queue.scheduled === 0) {
      this.#enqueue(worker, 'schedule', undefined, undefined, undefined);
    } else if (mode === WorkerExecutionMode.CONTINUOUS) {
      this.#activate(worker, false);
    }
    this.#dispatch();
  }

  /** Starts what may start, best first, until the global slots are full. Never re-entered. */
  #dispatch(): void {
    if (this.#dispatching) {
      this.#dispatchAgain = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#dispatchAgain = false;
        this.#dispatchPass();
      } while (this.#dispatchAgain);
    } finally {
      this.#dispatching = false;
    }
  }

  #dispatchPass(): void {
    if (this.#state === 'stopped') return;
    while (this.#attemptsInFlight < this.#options.maxConcurrentWorkers) {
      const next = this.#ready.pop();
      if (next === undefined) break;
      if (next.kind === 'retry') {
        this.#startAttempt(next.run);
        continue;
      }
      const worker = next.worker;
      const run =
        this.#state === 'running' ? worker.queue.takeStartable((r) => canStart(worker, r)) : undefined;
      if (run === undefined) {
        // Out of the heap until a run of its own or of a partner ends, or it is enabled again: a
        // dispatch pass never walks over workers that cannot start.
        worker.blocked = true;
        continue;
      }
      this.#beginRun(run);
      this.#ready.offerWorker(worker);
    }
  }

  /** Gives a blocked worker another look at the next dispatch. */
  #unblock(worker: WorkerRecord): void {
    worker.blocked = false;
    this.#ready.offerWorker(worker);
  }

  #beginRun(run: Run): void {
    const worker = run.worker;
    run.state = 'running';
    worker.inFlight++;
    if (run.origin === 'schedule') worker.scheduledInFlight++;
    worker.lastStartSeq = ++this.#seq;
    worker.lastRunAt = this.#clock.now();
    run.startedAt = worker.lastRunAt;
    worker.totals.runs++;
    run.isTrial = worker.breaker.onRunStart();
    this.#runsInFlight.add(run);
    this.#startAttempt(run);
  }

  // ---------------------------------------------------------------- attempts

  #startAttempt(run: Run): void {
    const worker = run.worker;
    run.attempt++;
    run.state = 'running';
    this.#attemptsInFlight++;
    if (isStored(run.origin)) this.#persistence.runStarted(run.id, run.attempt);
    let sandbox: Sandbox;
    try {
      worker.pool ??= createPool(worker, {
        clock: this.#clock,
        logger: this.#log,
        reaper: this.#reaper,
        heapReportMs: this.#options.enableHealthChecks ? this.#options.healthSampleMs : 0,
      });
      sandbox = worker.pool.acquire();
    } catch (error) {
      // The sandbox could not even be created (e.g. fork refused its arguments): this attempt fails
      // as one that could not load, and the run goes on to its outcome like any other.
      const cause = toError(error, 'the sandbox could not be created');
      this.#onAttemptEnd(run, undefined, { ok: false, reason: 'load', error: cause, durationMs: 0 });
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
      this.#clock,
      (outcome) => this.#onAttemptEnd(run, attempt, outcome),
    );
    run.current = attempt;
    this.#attempts.set(attempt, run);
    // Listeners may cancel the run from here: the attempt is registered, so that reaches it.
    this.#emit('worker:start', { name: worker.name, runId: run.id, attempt: run.attempt });
    if (run.abortError !== undefined) attempt.cancel('aborted', run.abortError);
    attempt.start();
    if (!attempt.settled && sandbox.probe !== undefined) this.#health.wake();
  }

  #onAttemptEnd(run: Run, attempt: Attempt | undefined, outcome: AttemptOutcome): void {
    const worker = run.worker;
    this.#attemptsInFlight--;
    run.current = undefined;
    if (attempt !== undefined) this.#attempts.delete(attempt);
    if (outcome.ok) {
      this.#emit('worker:success', {
        name: worker.name,
        runId: run.id,
        attempt: run.attempt,
        durationMs: outcome.durationMs,
        result: outcome.value,
      });
      this.#finishRun(run, { ok: true, value: outcome.value });
    } else {
      if (outcome.reason === 'timeout') worker.totals.timeouts++;
      if (outcome.reason === 'crash') worker.totals.crashes++;
      const willRetry =
        this.#state !== 'stopped' &&
        shouldRetry(outcome.reason, outcome.error, run.attempt, worker.options.maxRetries);
      this.#log.warn(
        { worker: worker.name, runId: run.id, attempt: run.attempt, reason: outcome.reason, willRetry },
        `attempt failed: ${outcome.error.message}`,
      );
      this.#emit('worker:failure', {
        name: worker.name,
        runId: run.id,
        attempt: run.attempt,
        reason: outcome.reason,
        error: outcome.error,
        willRetry,
      });
      if (willRetry && run.abortError === undefined) {
        worker.totals.retries++;
        this.#scheduleRetry(run);
      } else if (willRetry) {
        // Cancelled while this attempt was failing (e.g. from a worker:failure listener).
        this.#finishRun(run, {
          ok: false,
          reason: 'aborted',
          error: run.abortError as Error,
          attempts: run.attempt,
        });
      } else {
        this.#finishRun(run, {
          ok: false,
          reason: outcome.reason,
          error: outcome.error,
          attempts: run.attempt,
        });
      }
    }
    // The caller has its outcome first; killing the sandbox (a /proc walk, signals) comes after.
    if (attempt !== undefined) this.#returnSandbox(worker, attempt.sandbox, run.seq, outcome);
    this.#dispatch();
  }

  /** Keeps a sandbox that ended an attempt normally; kills one whose attempt was ended by force. */
  #returnSandbox(worker: WorkerRecord, sandbox: Sandbox, id: number, outcome: AttemptOutcome): void {
    const pool = worker.pool;
    if (pool === undefined) return;
    if (outcome.ok || outcome.reason === 'error') {
      pool.release(sandbox);
      return;
    }
    if (outcome.reason !== 'crash' && outcome.reason !== 'load') sandbox.abort(id);
    void pool.discard(sandbox);
  }

  #scheduleRetry(run: Run): void {
    const delay = backoffDelay(run.worker.options.retryDelayMs, run.attempt + 1);
    run.state = 'backoff';
    run.backoffTimer = this.#clock.setTimeout(() => {
      run.backoffTimer = undefined;
      this.#ready.offerRetry(run);
      this.#dispatch();
    }, delay);
  }

  /** The run is over: record it, tell the requester, feed the breaker, and schedule what follows. */
  #finishRun(run: Run, outcome: RunOutcome): void {
    const worker = run.worker;
    if (run.state === 'done') return;
    const wasInFlight = run.state !== 'queued';
    run.state = 'done';
    run.detachSignal?.();
    this.#forget(run);
    const now = this.#clock.now();
    if (isStored(run.origin) && !run.kept) this.#persistence.runOver(run.id);
    if (wasInFlight) {
      worker.inFlight--;
      if (run.origin === 'schedule') worker.scheduledInFlight--;
      this.#runsInFlight.delete(run);
      if (this.#stopTracker !== undefined && !this.#stopTracker.terminatedRuns.has(run)) {
        this.#stopTracker.completed.push(worker.name);
      }
      worker.lastEndedAt = now;
    }
    if (outcome.ok) {
      if (run.replayOf !== undefined) this.#deadLetters.remove(run.replayOf);
      worker.totals.succeeded++;
      worker.lastSuccessAt = now;
      worker.lastSuccessSeq = ++this.#seq;
      if (worker.breaker.onSuccess(run.isTrial)) {
        this.#clearCooldown(worker);
        worker.cooldownUntil = undefined;
        this.#log.info({ worker: worker.name }, 'half-open trial succeeded: breaker closed');
        this.#emit('worker:enabled', { name: worker.name });
      }
    } else if (outcome.reason === 'aborted') {
      worker.breaker.onAborted(run.isTrial);
    } else {
      worker.totals.failed++;
      worker.lastError = describeError(outcome.error);
      worker.lastFailureReason = outcome.reason;
      if (isRequested(run.origin)) this.#recordDeadLetter(run, outcome);
      if (worker.breaker.onFailure(run.isTrial)) this.#onBreakerOpened(worker);
    }
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
      this.#persistence.history(record);
    }
    this.#saveWorker(worker);
    run.settle?.(outcome);
    if (run.joined !== undefined) for (const settle of run.joined) settle(outcome);
    if (this.#runsInFlight.size === 0) this.#whenIdle?.();
    if (wasInFlight) this.#afterRun(worker, run, outcome);
  }

  /** What a run's end makes possible: the worker's next scheduled run, its partners, its pipeline. */
  #afterRun(worker: WorkerRecord, run: Run, outcome: RunOutcome): void {
    if (this.#state !== 'running') return;
    this.#unblock(worker);
    for (const other of worker.exclusive) this.#unblock(other);
    for (const dependent of worker.dependents) this.#unblock(dependent);
    if (worker.options.executionMode === WorkerExecutionMode.CONTINUOUS && run.origin === 'continuous') {
      if (!outcome.ok && outcome.reason !== 'aborted' && worker.enabled) {
        // After a failed run a continuous worker waits out a backoff instead of spinning.
        const delay = backoffDelay(worker.options.retryDelayMs, worker.breaker.consecutiveFailures + 1);
        this.#timers.schedule(worker, this.#clock.now() + delay);
      }
    }
    this.#activate(worker, false);
    if (outcome.ok) {
      for (const dependent of worker.dependents) {
        if (dependent.options.executionMode === WorkerExecutionMode.TRIGGERED)
          this.#activate(dependent, false);
      }
    }
  }

  #recordDeadLetter(run: Run, outcome: Extract<RunOutcome, { ok: false }>): void {
    const entry = this.#deadLetters.record(
      {
        name: run.worker.name,
        payload: run.payload,
        reason: outcome.reason,
        error: describeError(outcome.error),
        attempts: outcome.attempts,
        failedAt: isoDate(this.#clock.now()),
      },
      run.replayOf,
    );
    this.#log.error(
      { worker: run.worker.name, runId: run.id, deadLetter: entry.id, reason: outcome.reason },
      'run failed after its last attempt: dead-lettered',
    );
    this.#emit('worker:dead-letter', { name: run.worker.name, entry });
  }

  #onBreakerOpened(worker: WorkerRecord): void {
    const consecutiveFailures = worker.breaker.consecutiveFailures;
    this.#timers.cancel(worker);
    this.#log.warn({ worker: worker.name, consecutiveFailures }, 'circuit breaker opened: worker disabled');
    this.#emit('worker:disabled', { name: worker.name, consecutiveFailures });
    const cooldownMs = worker.breaker.cooldownMs;
    if (cooldownMs === null) return;
    worker.cooldownUntil = this.#clock.now() + cooldownMs;
    // While stopping, the cooldown is only remembered; the next start() arms it.
    if (this.#state === 'running') this.#armCooldown(worker);
  }

  /** Arms the half-open trial of an open breaker for `cooldownUntil`. */
  #armCooldown(worker: WorkerRecord): void {
    this.#clearCooldown(worker);
    const until = worker.cooldownUntil ?? this.#clock.now();
    worker.cooldownTimer = this.#clock.setTimeout(
      () => {
        worker.cooldownTimer = undefined;
        if (this.#state !== 'running') return;
        worker.cooldownUntil = undefined;
        worker.breaker.halfOpen();
        this.#saveWorker(worker);
        this.#log.info({ worker: worker.name }, 'breaker half-open: next run is the trial');
        if (worker.options.executionMode === WorkerExecutionMode.SCHEDULED && worker.queue.scheduled === 0) {
          this.#timers.schedule(worker, this.#clock.now());
        } else {
          this.#activate(worker, false);
        }
        this.#unblock(worker);
        this.#dispatch();
      },
      Math.max(0, until - this.#clock.now()),
    );
  }

  #clearCooldown(worker: WorkerRecord): void {
    if (worker.cooldownTimer !== undefined) this.#clock.clearTimeout(worker.cooldownTimer);
    worker.cooldownTimer = undefined;
  }

  /** Cancels a run wherever it is: removed from its queue, its attempt ended, or its backoff cut short. */
  #abortRun(run: Run, error: Error): void {
    switch (run.state) {
      case 'queued':
        run.worker.queue.remove(run);
        this.#finishRun(run, { ok: false, reason: 'aborted', error, attempts: run.attempt });
        break;
      case 'running':
        // Between attempts (an event listener cancelling) there is no attempt to end yet: remembered.
        if (run.current === undefined) run.abortError ??= error;
        else run.current.cancel('aborted', error);
        break;
      case 'backoff':
      case 'retry-ready':
        if (run.backoffTimer !== undefined) this.#clock.clearTimeout(run.backoffTimer);
        run.backoffTimer = undefined;
        this.#finishRun(run, { ok: false, reason: 'aborted', error, attempts: run.attempt });
        this.#dispatch();
        break;
      case 'done':
        break;
    }
  }

  // ---------------------------------------------------------------- stop

  async #stop(): Promise<StopReport> {
    // Sandboxes do not hold the event loop open on their own; stop() must not end with the host.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      return await this.#stopNow();
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #stopNow(): Promise<StopReport> {
    this.#state = 'stopping';
    this.#timers.clear();
    const tracker: StopTracker = { completed: [], terminated: [], terminatedRuns: new Set() };
    this.#stopTracker = tracker;
    const shutdownError = new Error('the orchestrator stopped before the run could finish');

    let dropped = 0;
    let requeued = 0;
    for (const worker of this.#workers.values()) {
      worker.blocked = false;
      for (const run of worker.queue.drain()) {
        if (this.#persistence.durable && isStored(run.origin)) {
          // Kept in the store for the next start; this process's caller learns it did not run here.
          run.kept = true;
          requeued++;
        } else if (isRequested(run.origin) && run.origin !== 'pipeline') {
          dropped++;
        }
        this.#finishRun(run, { ok: false, reason: 'aborted', error: shutdownError, attempts: run.attempt });
      }
    }

    if (this.#runsInFlight.size > 0) {
      const idle = new Promise<void>((resolve) => {
        this.#whenIdle = resolve;
      });
      let graceTimer: TimerHandle | undefined;
      const graceOver = new Promise<void>((resolve) => {
        graceTimer = this.#clock.setTimeout(resolve, this.#options.shutdownTimeoutMs);
      });
      await Promise.race([idle, graceOver]);
      if (graceTimer !== undefined) this.#clock.clearTimeout(graceTimer);
      for (const run of [...this.#runsInFlight]) {
        tracker.terminatedRuns.add(run);
        tracker.terminated.push(run.worker.name);
        if (this.#persistence.durable && isStored(run.origin)) {
          // At-least-once: a requested run cut short by stop() runs again after the next start.
          run.kept = true;
          requeued++;
        }
        this.#abortRun(run, shutdownError);
      }
      if (this.#runsInFlight.size > 0) await idle;
      this.#whenIdle = undefined;
    }
    // Only now: a run failing during the grace period may have opened a breaker.
    for (const worker of this.#workers.values()) this.#clearCooldown(worker);

    await Promise.all([...this.#workers.values()].map((worker) => worker.pool?.closeAll()));
    for (const worker of this.#workers.values()) worker.pool = undefined;
    await this.#health.close();
    await this.#reaper.close();
    await this.#persistence.close(this.#workers.values());

    this.#stopTracker = undefined;
    this.#state = 'stopped';
    const report: StopReport = {
      completed: tracker.completed,
      terminated: tracker.terminated,
      requeued,
      dropped,
    };
    this.#log.info(report, 'orchestrator stopped');
    this.#emit('orchestrator:stopped', report);
    return report;
  }

  // ---------------------------------------------------------------- durable state

  /** Takes back what the durable store holds (at the first start, or after a stop released it). */
  #restore(state: StoredState): void {
    for (const [name, stored] of Object.entries(state.workers)) this.#workers.get(name)?.restore(stored);
    this.#deadLetters.load(state.deadLetters);
    for (const worker of this.#workers.values()) worker.history = undefined;
    for (const record of state.history) this.#workers.get(record.worker)?.addHistory(record);
    // New runs must sort after the kept ones, at this start and the next.
    for (const stored of state.runs) this.#seq = Math.max(this.#seq, stored.seq);
    let orphans = 0;
    for (const stored of state.runs) {
      const worker = this.#workers.get(stored.worker);
      if (worker === undefined) {
        orphans++;
        continue;
      }
      this.#enqueue(worker, stored.origin, stored.payload, undefined, stored.replayOf, stored.key, stored);
    }
    if (orphans > 0) {
      this.#log.warn({ runs: orphans }, 'stored runs of workers not registered: left in the store untouched');
    }
    if (state.runs.length > 0) this.#log.info({ runs: state.runs.length - orphans }, 'stored runs resumed');
  }

  #storedRun(run: Run): StoredRun {
    return {
      id: run.id,
      seq: run.seq,
      worker: run.worker.name,
      origin: run.origin as StoredRun['origin'],
      payload: run.payload,
      priority: run.worker.options.priority,
      enqueuedAt: run.enqueuedAt,
      attempts: run.attempt,
      key: run.key,
      replayOf: run.replayOf,
    };
  }

  #saveWorker(worker: WorkerRecord): void {
    this.#persistence.worker(worker);
  }

  /** The run is over (or refused): a later call with its key starts a new run. */
  #forget(run: Run): void {
    if (run.key === undefined) return;
    const id = keyOf(run.worker.name, run.key);
    if (this.#keyed.get(id) === run) this.#keyed.delete(id);
  }

  // ---------------------------------------------------------------- events

  /** Emits to each listener on its own: a throwing listener is logged and cannot break the orchestrator. */
  #emit<E extends OrchestratorEventName>(event: E, payload: OrchestratorEvents[E]): void {
    if (this.listenerCount(event) === 0) return;
    for (const listener of this.listeners(event)) {
      try {
        (listener as OrchestratorListener<E>)(payload);
      } catch (error) {
        this.#log.error({ event, err: error }, 'an event listener threw');
      }
    }
  }
}

/** `Supervisor` is another name for {@link WorkerOrchestrator}. */
export const Supervisor = WorkerOrchestrator;
export type Supervisor = WorkerOrchestrator;

/** Beyond this, a time cannot be a Date (it would throw in toISOString). */
const MAX_DATE_MS = 8.64e15;

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

function keyOf(worker: string, key: string): string {
  return `${worker}\u0000${key}`;
}

function toError(reason: unknown, fallback: string): Error {
  if (reason instanceof Error) return reason;
  return new Error(reason === undefined ? fallback : describeError(reason), { cause: reason });
}
