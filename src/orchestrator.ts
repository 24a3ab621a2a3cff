import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Admission } from './admission.ts';
import { assemble } from './assembly.ts';
import type { AttemptRunner } from './attempt-runner.ts';
import type { BreakerController } from './breaker-controller.ts';
import { type Clock, systemClock } from './clock.ts';
import type { ClusterQueue } from './cluster/cluster-queue.ts';
import type { Completion } from './completion.ts';
import type { ClusterEventFeed, OrchestratorControl } from './control.ts';
import type { DeadLetterQueue } from './dead-letters.ts';
import type { Dispatcher } from './dispatcher.ts';
import { OrchestratorError } from './errors.ts';
import type { Emit, OrchestratorEventName, OrchestratorListener } from './events.ts';
import type { HttpServerHandle, ListenOptions } from './http/server.ts';
import { resolveLogger } from './logger.ts';
import { type ResolvedOrchestratorOptions, resolveOrchestratorOptions, resolveWorker } from './options.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import { validateGraph, validateNames } from './scheduler/graph.ts';
import { link, relinkAll } from './scheduler/links.ts';
import type { Planner } from './scheduler/planner.ts';
import { Sequence } from './sequence.ts';
import { shutdown } from './shutdown.ts';
import { buildStatus } from './status.ts';
import type { Persistence } from './store/persistence.ts';
import { restore } from './store/restore.ts';
import type { RunRecord } from './store/store.ts';
import type {
  OrchestratorOptions,
  OrchestratorStatus,
  RunOptions,
  StopReport,
  WorkerConfig,
  WorkerFn,
  WorkerOptions,
} from './types.ts';
import { WorkerRecord } from './worker-record.ts';

type State = 'stopped' | 'running' | 'stopping';

export interface WorkerOrchestrator {
  on<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): this;
  once<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): this;
  off<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): this;
}

/**
 * Supervises background workers: schedules them, runs each in its sandbox (inline, thread or process),
 * enforces timeouts by killing, retries with backoff, opens a breaker on repeated failure, keeps dead
 * letters, and stops gracefully.
 *
 * The facade: the public API and the lifecycle. A run flows one way through the parts that
 * assembly.ts builds and wires together — admission → queue → dispatcher → attempt runner → completion
 * — each with its own fields and a narrow context (docs/architecture.md).
 *
 * @example
 * const orch = new WorkerOrchestrator({ maxConcurrentWorkers: 4 });
 * orch.registerWorker('report', './workers/report.mjs', { isolation: 'process', timeoutSeconds: 30 });
 * await orch.start();
 * const result = await orch.run('report', { month: '2026-11' });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed event overloads merged onto the class
export class WorkerOrchestrator extends EventEmitter implements OrchestratorControl {
  readonly #options: ResolvedOrchestratorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #sequence = new Sequence();
  readonly #persistence: Persistence;
  readonly #deadLetters: DeadLetterQueue;
  readonly #queue: WorkQueue;
  /** Cluster mode: the queue shared through Redis (also `#queue`); undefined on one host. */
  readonly #cluster: ClusterQueue | undefined;
  readonly #admission: Admission;
  readonly #planner: Planner;
  readonly #breakers: BreakerController;
  readonly #dispatcher: Dispatcher;
  readonly #runner: AttemptRunner;
  readonly #completion: Completion;
  #state: State = 'stopped';
  #starting: Promise<void> | undefined;
  #stopping: Promise<StopReport> | undefined;

  constructor(options: OrchestratorOptions = {}) {
    super();
    this.#options = resolveOrchestratorOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#log = resolveLogger(options.logger);
    const parts = assemble({
      options: this.#options,
      store: options.store,
      clock: this.#clock,
      log: this.#log,
      sequence: this.#sequence,
      workers: this.#workers,
      emit: (event, payload) => this.#emit(event, payload),
      state: () => this.#state,
    });
    this.#persistence = parts.persistence;
    this.#deadLetters = parts.deadLetters;
    this.#cluster = parts.cluster;
    this.#queue = parts.queue;
    this.#admission = parts.admission;
    this.#planner = parts.planner;
    this.#breakers = parts.breakers;
    this.#runner = parts.runner;
    this.#dispatcher = parts.dispatcher;
    this.#completion = parts.completion;
  }

  /** Runs that failed after their last attempt. */
  get deadLetters(): DeadLetterQueue {
    return this.#deadLetters;
  }

  /** Cluster mode: the other hosts' events, which `/events` adds to this host's own. */
  get clusterEvents(): ClusterEventFeed | undefined {
    return this.#cluster?.events;
  }

  /**
   * Registers a worker: a function (runs inline) or a module path / file URL (runs isolated).
   * Throws `OrchestratorError` at once for invalid input.
   */
  registerWorker<P = unknown>(
    name: string,
    worker: WorkerFn<P> | string | URL,
    options?: WorkerOptions,
  ): void {
    const resolved = resolveWorker(name, worker as WorkerFn | string | URL, options);
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
    link(this.#workers, record);
    this.#planner.activate(record, true);
    this.#dispatcher.dispatch();
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
    // Cluster mode: Redis must be reachable and the host id free, or start() fails with ERR_STORE.
    await this.#cluster?.open();
    const stored = await this.#persistence.open();
    if (stored !== undefined) {
      restore(stored, {
        log: this.#log,
        workers: this.#workers,
        deadLetters: this.#deadLetters,
        sequenceAtLeast: (seq) => this.#sequence.atLeast(seq),
        requeue: (worker, run) => this.#admission.requeue(worker, run),
      });
      // enable/disable/remove calls made while the store was closed win over what it held.
      this.#persistence.replayWhileClosed();
    }
    relinkAll(this.#workers);
    this.#runner.reopen();
    this.#state = 'running';
    for (const worker of this.#workers.values()) {
      this.#breakers.resume(worker);
      this.#planner.activate(worker, true);
      this.#queue.wake(worker);
    }
    this.#planner.start();
    this.#log.info({ workers: this.#workers.size }, 'orchestrator started');
    this.#emit('orchestrator:started', {});
    this.#dispatcher.dispatch();
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

  async #stop(): Promise<StopReport> {
    this.#state = 'stopping';
    const report = await shutdown({
      clock: this.#clock,
      log: this.#log,
      queue: this.#queue,
      completion: this.#completion,
      shutdownTimeoutMs: this.#options.shutdownTimeoutMs,
      stopTimers: () => {
        this.#planner.clear();
        this.#breakers.suspend();
      },
      release: async () => {
        await this.#runner.close();
        await this.#persistence.close(this.#workers.values());
        await this.#cluster?.close();
      },
    });
    this.#state = 'stopped';
    this.#log.info(report, 'orchestrator stopped');
    this.#emit('orchestrator:stopped', report);
    return report;
  }

  /**
   * Queues a run of `name` with `payload` and resolves `true` once it has ended, successfully or not;
   * `false` at once if the worker is unknown or disabled, or the orchestrator is not running.
   */
  triggerWorker(name: string, payload?: unknown): Promise<boolean> {
    return this.#admission.trigger(name, payload);
  }

  /**
   * Queues a run and settles with its outcome: the worker's return value (typed `R` at the caller's
   * word), or a `RunError`.
   */
  run<R = unknown>(name: string, payload?: unknown, options: RunOptions = {}): Promise<R> {
    if (options.key !== undefined && (typeof options.key !== 'string' || options.key === '')) {
      return Promise.reject(
        new OrchestratorError(
          'ERR_INVALID_OPTION',
          `key must be a non-empty string, got ${String(options.key)}`,
        ),
      );
    }
    return this.#admission.request(name, 'run', payload, options) as Promise<R>;
  }

  /** Re-enables a worker, closes its breaker and resets its consecutive failures. */
  enableWorker(name: string): void {
    const worker = this.#get(name);
    this.#persistence.whileClosed(() => this.enableWorker(name));
    const wasEnabled = worker.enabled;
    worker.manuallyEnabled = true;
    this.#breakers.reset(worker);
    this.#cluster?.setEnabled(worker, true);
    this.#persistence.worker(worker);
    if (!wasEnabled) {
      this.#log.info({ worker: name }, 'worker enabled');
      this.#emit('worker:enabled', { name });
    }
    if (this.#state === 'running') {
      this.#planner.activate(worker, false);
      this.#queue.wake(worker);
      this.#dispatcher.dispatch();
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
    this.#cluster?.setEnabled(worker, false);
    this.#planner.cancel(worker);
    this.#persistence.worker(worker);
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
   * one event-loop turn after they are made, at most 1 ms later under load; README, Durable state).
   * Resolves at once with the in-memory store.
   */
  flush(): Promise<void> {
    return this.#persistence.flush();
  }

  /**
   * Serves the HTTP API and dashboard (status, health, metrics, events, mutations with a bearer token)
   * on `host` (default `127.0.0.1`) and `port` (default: a free one). See `createHttpHandler`.
   */
  async listen(options: ListenOptions = {}): Promise<HttpServerHandle> {
    // Loaded on use: an orchestrator that never serves HTTP never loads the HTTP layer.
    const { listen } = await import('./http/server.ts');
    return listen(this, options);
  }

  getWorker(name: string): Readonly<WorkerConfig> | undefined {
    return this.#workers.get(name)?.config();
  }

  getStatus(): OrchestratorStatus {
    return buildStatus({
      state: this.#state,
      workers: this.#workers.values(),
      count: this.#workers.size,
      queue: this.#queue,
      dueAt: (worker) => this.#cluster?.mirror?.dueAt(worker) ?? this.#planner.dueAt(worker),
      containment: this.#runner.containment,
      shared: this.#cluster?.mirror,
    });
  }

  #get(name: string): WorkerRecord {
    const worker = this.#workers.get(name);
    if (worker === undefined) throw new OrchestratorError('ERR_UNKNOWN_WORKER', `no worker named "${name}"`);
    return worker;
  }

  /** Emits to each listener on its own: a throwing listener is logged and cannot break the orchestrator. */
  #emit: Emit = (event, payload) => {
    this.#cluster?.relay(event, payload);
    if (this.listenerCount(event) === 0) return;
    for (const listener of this.listeners(event)) {
      try {
        (listener as OrchestratorListener<typeof event>)(payload);
      } catch (error) {
        this.#log.error({ event, err: error }, 'an event listener threw');
      }
    }
  };
}

/** `Supervisor` is another name for {@link WorkerOrchestrator}. */
export const Supervisor = WorkerOrchestrator;
export type Supervisor = WorkerOrchestrator;
