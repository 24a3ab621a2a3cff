import { CircuitBreaker } from './breaker.ts';
import type { FailureReason } from './errors.ts';
import type { StaticConfig } from './isolation/protocol.ts';
import type { ResolvedWorkerOptions, WorkerSource } from './options.ts';
import { cronSchedule, intervalSchedule, type Schedule } from './scheduler/schedule.ts';
import { WorkerQueue } from './scheduler/worker-queue.ts';
import { HISTORY_PER_WORKER, type RunRecord, type StoredWorkerState } from './store/store.ts';
import { type ResourceSample, type RunTotals, type WorkerConfig, WorkerExecutionMode } from './types.ts';

/** Shared by every worker without links; never written to (linking replaces lists, never pushes). */
export const NO_LINKS: WorkerRecord[] = [];

function scheduleOf(options: ResolvedWorkerOptions): Schedule | undefined {
  if (options.executionMode !== WorkerExecutionMode.SCHEDULED) return undefined;
  return options.cron !== undefined ? cronSchedule(options.cron) : intervalSchedule(options.intervalSeconds);
}

/** Everything the orchestrator knows about one registered worker. */
export class WorkerRecord {
  readonly name: string;
  readonly options: ResolvedWorkerOptions;
  readonly source: WorkerSource;
  readonly breaker: CircuitBreaker;
  schedule: Schedule | undefined;
  readonly queue = new WorkerQueue();

  /** Disabled by hand (`disableWorker`) when false; the breaker may disable it too. */
  manuallyEnabled = true;
  /** Runs started and not yet ended, including those waiting out a retry backoff. */
  inFlight = 0;
  /** Of those, runs that came from the schedule: the next due time is set when the last one ends. */
  scheduledInFlight = 0;

  /** Workers this one must never overlap (its `blocks` and those that block it). */
  // Most workers have no links: they share one empty array (see NO_LINKS).
  exclusive: WorkerRecord[] = NO_LINKS;
  deps: WorkerRecord[] = NO_LINKS;
  dependents: WorkerRecord[] = NO_LINKS;
  /** Orchestrator sequence numbers: dependency freshness compares these, never clock times. */
  lastStartSeq = 0;
  lastSuccessSeq = 0;

  /** Epoch ms; turned into Dates only for `getWorker`, `getStatus` and `ctx.config`. */
  lastRunAt: number | undefined;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  lastFailureReason: FailureReason | undefined;
  lastEndedAt: number | undefined;
  resources: ResourceSample | undefined;
  readonly totals: RunTotals = { runs: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0, crashes: 0 };

  /** The latest finished runs, oldest first (at most HISTORY_PER_WORKER); none kept before the first. */
  history: RunRecord[] | undefined;

  /** When an open breaker with a cooldown lets its trial run (kept across stop/start). Written by breaker-controller.ts. */
  cooldownUntil: number | undefined;

  #staticConfig: StaticConfig | undefined;

  constructor(name: string, source: WorkerSource, options: ResolvedWorkerOptions) {
    this.name = name;
    this.source = source;
    this.options = options;
    this.breaker = new CircuitBreaker(options.maxConsecutiveFailures, options.breakerCooldownSeconds);
    this.schedule = scheduleOf(options);
  }

  /**
   * Takes `changes` into its options (cluster mode: the cluster-wide options of the latest registration
   * to start, README: "Running on several machines"); the breaker's thresholds and the schedule follow.
   * Links (`blocks`, `dependsOn`) are the caller's to redo.
   */
  adopt(changes: Partial<ResolvedWorkerOptions>): void {
    Object.assign(this.options, changes);
    this.breaker.configure(this.options.maxConsecutiveFailures, this.options.breakerCooldownSeconds);
    this.schedule = scheduleOf(this.options);
    this.#staticConfig = undefined;
  }

  /** Enabled by hand and the breaker not open (half-open counts as enabled). */
  get enabled(): boolean {
    return this.manuallyEnabled && this.breaker.state !== 'open';
  }

  staticConfig(): StaticConfig {
    this.#staticConfig ??= {
      name: this.name,
      ...this.options,
      modulePath: this.source.kind === 'module' ? this.source.path : undefined,
    };
    return this.#staticConfig;
  }

  runtimeState(): Pick<
    WorkerConfig,
    'isEnabled' | 'isRunning' | 'consecutiveFailures' | 'lastRun' | 'lastSuccess' | 'lastError'
  > {
    const state: ReturnType<WorkerRecord['runtimeState']> = {
      isEnabled: this.enabled,
      isRunning: this.inFlight > 0,
      consecutiveFailures: this.breaker.consecutiveFailures,
    };
    if (this.lastRunAt !== undefined) state.lastRun = new Date(this.lastRunAt);
    if (this.lastSuccessAt !== undefined) state.lastSuccess = new Date(this.lastSuccessAt);
    if (this.lastError !== undefined) state.lastError = this.lastError;
    return state;
  }

  addHistory(record: RunRecord): void {
    this.history ??= [];
    this.history.push(record);
    if (this.history.length > HISTORY_PER_WORKER) this.history.shift();
  }

  /** What a durable store keeps of this worker. */
  storedState(): StoredWorkerState {
    return {
      manuallyEnabled: this.manuallyEnabled,
      breaker: this.breaker.state,
      consecutiveFailures: this.breaker.consecutiveFailures,
      cooldownUntil: this.cooldownUntil,
      lastRunAt: this.lastRunAt,
      lastSuccessAt: this.lastSuccessAt,
      lastEndedAt: this.lastEndedAt,
      lastError: this.lastError,
      lastFailureReason: this.lastFailureReason,
      totals: { ...this.totals },
    };
  }

  /** Takes back what a durable store kept. */
  restore(state: StoredWorkerState): void {
    this.manuallyEnabled = state.manuallyEnabled;
    this.breaker.restore(state.breaker, state.consecutiveFailures);
    this.cooldownUntil = state.cooldownUntil ?? undefined;
    this.lastRunAt = state.lastRunAt ?? undefined;
    this.lastSuccessAt = state.lastSuccessAt ?? undefined;
    this.lastEndedAt = state.lastEndedAt ?? undefined;
    this.lastError = state.lastError ?? undefined;
    this.lastFailureReason = state.lastFailureReason ?? undefined;
    Object.assign(this.totals, state.totals);
  }

  config(): Readonly<WorkerConfig> {
    return Object.freeze({ ...this.staticConfig(), ...this.runtimeState() });
  }
}
