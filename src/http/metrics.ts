import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OrchestratorControl } from '../control.ts';
import type { OrchestratorEvents } from '../events.ts';
import type { BreakerState } from '../types.ts';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Seconds: from a few ms (inline jobs) to ten minutes (report builds). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Runs whose start was seen but not their end; bounded so that lost events cannot grow it forever. */
const MAX_OPEN_RUNS = 10_000;

/**
 * Prometheus metrics of one orchestrator, in a registry of their own (never the global one: two
 * handlers, or a host's own prom-client, must not collide). Counters and gauges are read from
 * `getStatus()` at each scrape, so they are exact and cost nothing between scrapes; only the duration
 * histogram needs events, since the status keeps no durations.
 */
export class CorralMetrics {
  readonly registry = new Registry();
  readonly #orch: OrchestratorControl;
  readonly #runs: Counter<'worker' | 'outcome'>;
  readonly #retries: Counter<'worker'>;
  readonly #timeouts: Counter<'worker'>;
  readonly #crashes: Counter<'worker'>;
  readonly #running: Gauge<'worker'>;
  readonly #queued: Gauge<'worker'>;
  readonly #breaker: Gauge<'worker'>;
  readonly #cpu: Gauge<'worker'>;
  readonly #memory: Gauge<'worker'>;
  readonly #deadLetters: Gauge<'worker'>;
  readonly #duration: Histogram<'worker'>;
  #host: string | undefined;
  /** performance.now() of the first attempt of each run in flight, by run id. */
  readonly #startedAt = new Map<string, number>();
  readonly #onStart = (e: OrchestratorEvents['worker:start']) => this.#started(e.runId);
  readonly #onSuccess = (e: OrchestratorEvents['worker:success']) =>
    this.#ended(e.name, e.runId, e.durationMs);
  readonly #onFailure = (e: OrchestratorEvents['worker:failure']) => {
    // A failed attempt that will be retried is not the end of the run.
    if (!e.willRetry) this.#ended(e.name, e.runId, undefined);
  };

  constructor(orch: OrchestratorControl) {
    this.#orch = orch;
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = (name: string, help: string) =>
      new Gauge<'worker'>({ name, help, labelNames: ['worker'], registers });
    this.#runs = counter('corral_runs_total', 'Runs ended, by worker and outcome (succeeded or failed).', [
      'worker',
      'outcome',
    ]);
    this.#retries = counter('corral_retries_total', 'Attempts retried after a failure, by worker.', [
      'worker',
    ]);
    this.#timeouts = counter('corral_timeouts_total', 'Attempts terminated for timeout, by worker.', [
      'worker',
    ]);
    this.#crashes = counter('corral_crashes_total', 'Threads or processes that crashed, by worker.', [
      'worker',
    ]);
    this.#running = gauge('corral_running', 'Runs in flight.');
    this.#queued = gauge('corral_queued', 'Runs waiting to start.');
    this.#breaker = gauge('corral_breaker_state', 'Circuit breaker: 0 closed, 1 half-open, 2 open.');
    this.#cpu = gauge('corral_worker_cpu_percent', 'CPU of the runs in flight at the last sample (percent).');
    this.#memory = gauge('corral_worker_memory_bytes', 'Memory of the runs in flight at the last sample.');
    this.#deadLetters = gauge('corral_dead_letters', 'Dead letters waiting for replay or removal.');
    this.#duration = new Histogram<'worker'>({
      name: 'corral_run_duration_seconds',
      help: 'Duration of ended runs, from the start of the first attempt to the end of the last.',
      labelNames: ['worker'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    orch.on('worker:start', this.#onStart);
    orch.on('worker:success', this.#onSuccess);
    orch.on('worker:failure', this.#onFailure);
  }

  /** The exposition text and its content type, with every counter and gauge read now. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    this.#collect();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Detaches from the orchestrator's events. */
  close(): void {
    this.#orch.off('worker:start', this.#onStart);
    this.#orch.off('worker:success', this.#onSuccess);
    this.#orch.off('worker:failure', this.#onFailure);
  }

  #collect(): void {
    const status = this.#orch.getStatus();
    // In a cluster every series carries the host it comes from (each host exposes its own /metrics).
    if (status.cluster !== undefined && this.#host !== status.cluster.self) {
      this.#host = status.cluster.self;
      this.registry.setDefaultLabels({ host: this.#host });
    }
    const deadLetters = new Map<string, number>();
    for (const entry of this.#orch.deadLetters.list()) {
      deadLetters.set(entry.name, (deadLetters.get(entry.name) ?? 0) + 1);
    }
    // Counters mirror the orchestrator's totals: reset, then set to them (inc from 0), never summed twice.
    for (const metric of [
      this.#runs,
      this.#retries,
      this.#timeouts,
      this.#crashes,
      this.#running,
      this.#queued,
      this.#breaker,
      this.#cpu,
      this.#memory,
      this.#deadLetters,
    ]) {
      metric.reset();
    }
    for (const [worker, state] of Object.entries(status.workerStates)) {
      const labels = { worker };
      this.#runs.inc({ worker, outcome: 'succeeded' }, state.totals.succeeded);
      this.#runs.inc({ worker, outcome: 'failed' }, state.totals.failed);
      this.#retries.inc(labels, state.totals.retries);
      this.#timeouts.inc(labels, state.totals.timeouts);
      this.#crashes.inc(labels, state.totals.crashes);
      this.#running.set(labels, state.runningCount);
      this.#queued.set(labels, state.queued);
      this.#breaker.set(labels, BREAKER_VALUE[state.breaker]);
      if (state.resources !== undefined) {
        this.#cpu.set(labels, state.resources.cpuPercent);
        this.#memory.set(labels, state.resources.memoryBytes);
      }
      this.#deadLetters.set(labels, deadLetters.get(worker) ?? 0);
    }
  }

  #started(runId: string): void {
    if (this.#startedAt.has(runId)) return; // a retry: the run started with its first attempt
    if (this.#startedAt.size >= MAX_OPEN_RUNS) {
      const oldest = this.#startedAt.keys().next().value as string;
      this.#startedAt.delete(oldest);
    }
    this.#startedAt.set(runId, performance.now());
  }

  #ended(worker: string, runId: string, attemptMs: number | undefined): void {
    const startedAt = this.#startedAt.get(runId);
    this.#startedAt.delete(runId);
    // A run that began before this handler existed: its last attempt is the best known duration.
    const ms = startedAt === undefined ? attemptMs : performance.now() - startedAt;
    if (ms !== undefined) this.#duration.observe({ worker }, ms / 1000);
  }
}
