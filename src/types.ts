import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { FailureReason } from './errors.ts';
import type { Store } from './store/store.ts';

/** How a worker is started. */
export enum WorkerExecutionMode {
  /** On an interval (`intervalSeconds` after the previous run ended) or on `cron` times. */
  SCHEDULED = 'scheduled',
  /** Only when asked: `triggerWorker`, `run`, a pipeline or a replay. */
  TRIGGERED = 'triggered',
  /** Again as soon as a run ends (after a failure: after the retry backoff). */
  CONTINUOUS = 'continuous',
}

/** Who gets a free slot first. */
export enum JobPriority {
  LOW = 0,
  NORMAL = 1,
  HIGH = 2,
  CRITICAL = 3,
}

/** Where a worker runs: in the host (a function), in a worker thread, or in a child process. */
export type Isolation = 'inline' | 'thread' | 'process';

/** An execution mode as its enum member or its string value (`'triggered'`, ...). */
export type ExecutionModeName = WorkerExecutionMode | `${WorkerExecutionMode}`;

/**
 * What a worker function receives. `P` types the payload the worker expects (corral does not check it:
 * a scheduled or pipeline run has `undefined`).
 */
export interface RunContext<P = unknown> {
  name: string;
  /** What `triggerWorker`/`run` passed, else `undefined`. */
  payload: P;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted on timeout, `stop()` or cancellation of the run. */
  signal: AbortSignal;
  /** Liveness signal for `heartbeatTimeoutSeconds`. */
  heartbeat(): void;
  /** Snapshot of the worker's configuration. */
  config: Readonly<WorkerConfig>;
}

/** A worker function (runs inline). `P` types `ctx.payload`. */
export type WorkerFn<P = unknown> = (ctx: RunContext<P>) => unknown;

/** Options of {@link WorkerOrchestrator.registerWorker}. Every field is optional; `0` and `false` are honoured. */
export interface WorkerOptions {
  /** `WorkerExecutionMode.TRIGGERED` or `'triggered'`, ... @default WorkerExecutionMode.SCHEDULED */
  executionMode?: ExecutionModeName;
  /** SCHEDULED: the next run is due this long after the previous run ended. @default 300 */
  intervalSeconds?: number;
  /** SCHEDULED alternative to `intervalSeconds`: a cron pattern of 5 or 6 fields. */
  cron?: string;
  /** Per attempt; enforced by terminating the thread / process tree. `Infinity` for none. @default 60 */
  timeoutSeconds?: number;
  /** Extra attempts inside one run, with exponential backoff and full jitter. @default 3 */
  maxRetries?: number;
  /** Base of the retry backoff. @default 1000 */
  retryDelayMs?: number;
  /** @default JobPriority.NORMAL */
  priority?: JobPriority;
  /** Failed runs in a row that open the circuit breaker. @default 5 */
  maxConsecutiveFailures?: number;
  /** `null`: an open breaker stays open until `enableWorker()`; a number: then one half-open trial. @default null */
  breakerCooldownSeconds?: number | null;
  /** Workers that must succeed before this one runs (see the README: pipelines). */
  dependsOn?: string[];
  /** Mutual exclusion, symmetric: this worker and these never run at the same time. */
  blocks?: string[];
  /** @default 'inline' for a function, 'thread' for a module */
  isolation?: Isolation;
  /** Runs of this worker in flight at once. @default 1 */
  concurrency?: number;
  /** Runs of this worker waiting to start; beyond it `trigger`/`run` reject with ERR_QUEUE_FULL. @default 1000 */
  maxQueue?: number;
  /** thread: V8 heap limit; process: RSS limit checked by the health monitor. */
  memoryLimitMb?: number;
  /** A run silent (no `ctx.heartbeat()`) this long is killed as `stalled`. */
  heartbeatTimeoutSeconds?: number;
  /** process: SIGTERM to the whole tree, SIGKILL after this. @default 5000 */
  killGraceMs?: number;
  /** process: environment of the child. @default the host's */
  env?: Record<string, string>;
  /** thread / process: Node flags. @default the host's, less --inspect flags */
  execArgv?: string[];
  /** thread / process: replace the sandbox after this many runs (1 = a fresh one per run). @default never */
  recycleAfterRuns?: number;
  /** thread / process: close a sandbox idle this long. @default 30 */
  idleTimeoutSeconds?: number;
  /**
   * SCHEDULED with a durable store: a run that fell due while the host was down happens once at start
   * ('once') or is skipped for the next due time ('skip'). @default 'once'
   */
  missedRuns?: 'once' | 'skip';
}

/** A worker's options after validation: every field has its value. */
export interface ResolvedWorkerOptions {
  executionMode: WorkerExecutionMode;
  intervalSeconds: number;
  cron: string | undefined;
  timeoutSeconds: number;
  maxRetries: number;
  retryDelayMs: number;
  priority: JobPriority;
  maxConsecutiveFailures: number;
  breakerCooldownSeconds: number | null;
  dependsOn: readonly string[];
  blocks: readonly string[];
  isolation: Isolation;
  concurrency: number;
  maxQueue: number;
  memoryLimitMb: number | undefined;
  heartbeatTimeoutSeconds: number | undefined;
  killGraceMs: number;
  env: Readonly<Record<string, string>> | undefined;
  execArgv: readonly string[] | undefined;
  recycleAfterRuns: number | undefined;
  idleTimeoutSeconds: number;
  missedRuns: 'once' | 'skip';
}

/** The options of a worker resolved to their values, and its runtime state. */
export interface WorkerConfig extends ResolvedWorkerOptions {
  name: string;
  /** The module of an isolated worker (absolute path); `undefined` for a function. */
  modulePath: string | undefined;
  isEnabled: boolean;
  isRunning: boolean;
  consecutiveFailures: number;
  lastRun?: Date;
  lastSuccess?: Date;
  lastError?: string;
}

/** Options of the {@link WorkerOrchestrator} constructor. */
export interface OrchestratorOptions {
  /** Accepted for compatibility; scheduling is event-driven and never polls. */
  tickIntervalMs?: number;
  /** Global cap on runs in flight. @default os.availableParallelism() */
  maxConcurrentWorkers?: number;
  /** Sample CPU and memory of every running isolated worker. @default true */
  enableHealthChecks?: boolean;
  /** @default 1000 */
  healthSampleMs?: number;
  /** `stop()` waits this long, then terminates what still runs. @default 30000 */
  shutdownTimeoutMs?: number;
  /** A pino logger, or `false` for none. @default a pino logger at level 'info' */
  logger?: Logger | false;
  /** Dead letters kept in memory; the oldest is dropped (and logged) beyond it. @default 10000 */
  maxDeadLetters?: number;
  /**
   * Largest payload of a run, in bytes as a structured clone: a bigger one is refused at the call
   * (`ERR_PAYLOAD_TOO_LARGE`), before it is queued, stored or sent to a sandbox. @default 16 MiB
   */
  maxPayloadBytes?: number;
  /** Time source, for tests. @default the system clock */
  clock?: Clock;
  /**
   * Where state is kept: 'memory' (lost with the process), a file path (an embedded SQLite database,
   * created if missing), or your own {@link Store}. @default 'memory'
   */
  store?: 'memory' | string | Store;
  /**
   * Cluster mode: hosts with the same Redis and `name` share their runs through BullMQ on Redis (README:
   * "Running on several machines"). Only `store: 'memory'` may stand beside it: Redis is the store.
   */
  cluster?: ClusterOptions;
}

/** Options of cluster mode (README: "Running on several machines"). */
export interface ClusterOptions {
  /**
   * A Redis URL (`redis://host:6379/0`), ioredis options (host, port, password, sentinels...), or a
   * Redis Cluster: `{ nodes: [{ host, port }, ...], ...ioredis ClusterOptions }`. Required.
   */
  redis: string | Record<string, unknown>;
  /** Hosts with the same Redis and name form one cluster. @default 'corral' */
  name?: string;
  /** Unique per live host. @default `${os.hostname()}:${process.pid}` */
  hostId?: string;
  /** false: this host queues, observes and serves, and runs nothing. @default true */
  execute?: boolean;
  /** A run whose host stops renewing its lock this long runs elsewhere (integer >= 1000). @default 30000 */
  lockMs?: number;
}

/** One host of the cluster, as `getStatus().cluster.hosts` lists it. */
export interface ClusterHostStatus {
  id: string;
  execute: boolean;
  /** Names of the workers it executes ([] with `execute: false`). */
  workers: string[];
  /** Attempts in flight there. */
  running: number;
  lastSeenAt: string;
}

export interface ClusterStatus {
  name: string;
  hosts: ClusterHostStatus[];
  /** This host's id (one of `hosts`). */
  self: string;
  /** `'unreachable'` while the connection to Redis is lost (it reconnects on its own). */
  redis: 'ready' | 'unreachable';
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface RunTotals {
  runs: number;
  succeeded: number;
  failed: number;
  retries: number;
  timeouts: number;
  crashes: number;
}

export interface ResourceSample {
  cpuPercent: number;
  memoryBytes: number;
  /** Process isolation: memory of the child and every process it started (what memoryLimitMb checks). */
  treeMemoryBytes?: number;
  sampledAt: string;
}

export interface WorkerStatus {
  enabled: boolean;
  running: boolean;
  failures: number;
  runningCount: number;
  queued: number;
  breaker: BreakerState;
  lastRun?: string;
  lastSuccess?: string;
  lastError?: string;
  lastFailureReason?: FailureReason;
  nextRunAt?: string;
  totals: RunTotals;
  resources?: ResourceSample;
}

export interface OrchestratorStatus {
  state: 'stopped' | 'running' | 'stopping';
  workers: number;
  running: number;
  queued: number;
  /**
   * How process sandboxes are contained: `cgroup` (a cgroup v2 per sandbox, ended with cgroup.kill) or
   * `process-group` (process groups and a process-table snapshot). See the README's Containment section.
   */
  containment: 'cgroup' | 'process-group';
  workerStates: Record<string, WorkerStatus>;
  /** Cluster mode only: the live hosts of the cluster. */
  cluster?: ClusterStatus;
}

/** What `stop()` resolves with (and `orchestrator:stopped` carries). */
export interface StopReport {
  /** Names of the runs that finished inside the grace period, one entry per run. */
  completed: string[];
  /** Names of the runs that had to be terminated, one entry per run. */
  terminated: string[];
  /** Queued runs kept for the next start (durable store only). */
  requeued: number;
  /** Queued runs rejected with reason `aborted` because nothing could keep them. */
  dropped: number;
}

export interface DeadLetter {
  id: string;
  name: string;
  payload: unknown;
  reason: FailureReason;
  error: string;
  attempts: number;
  failedAt: string;
}

export interface RunOptions {
  /** Aborting it cancels the run: removed from the queue, or terminated if running. */
  signal?: AbortSignal;
  /**
   * Idempotency key: while a run of this worker with the same key is queued or running, this call joins
   * it (same outcome) instead of running again.
   */
  key?: string;
}
