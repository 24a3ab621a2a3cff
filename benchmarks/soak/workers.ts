// The soak's workers: TRIGGERED chaos workers fed by the load generator (with the mix of modes each
// attempt draws from and their share of the load), BULK triggered workers that carry most of the volume
// (short runs, a few errors, sandboxes kept), SCHEDULED and CONTINUOUS ones, over threads, processes and
// inline. All run benchmarks/fixtures/chaos.mjs.
import type { JobPriority, WorkerExecutionMode, WorkerOptions } from 'corral';

export type Isolation = 'inline' | 'thread' | 'process';
export type Mix = [string, number][];

export interface Spec {
  name: string;
  isolation: Isolation;
  options: WorkerOptions;
  /** TRIGGERED workers: the modes the load generator draws from, and the share of the load. */
  mix?: Mix;
  share?: number;
  /** BULK workers: how long an `ok` attempt sleeps (ms, min and max), and no storms (see load.ts). */
  bulk?: { okMs: [number, number] };
}

/** The enums of the built package, imported by main.ts once it is built. */
export interface Enums {
  WorkerExecutionMode: typeof WorkerExecutionMode;
  JobPriority: typeof JobPriority;
}

export function soakWorkers({ WorkerExecutionMode, JobPriority }: Enums): Spec[] {
  const triggered = (options: WorkerOptions): WorkerOptions => ({
    executionMode: WorkerExecutionMode.TRIGGERED,
    ...options,
  });

  // Isolated workers get `execArgv: []` (a plain Node thread / child, as a compiled app would run them):
  // inheriting the soak's own `--import tsx` costs ~150 ms (thread) / ~300 ms (child) per cold start,
  // which would turn the small timeouts into mostly cold-start timeouts. c-proc keeps the inheritance.
  return [
    {
      name: 't-thread',
      isolation: 'thread',
      share: 4,
      options: triggered({
        isolation: 'thread',
        execArgv: [],
        timeoutSeconds: 0.5,
        maxRetries: 2,
        retryDelayMs: 20,
        maxConsecutiveFailures: 4,
        breakerCooldownSeconds: 0.5,
        concurrency: 2,
        maxQueue: 25,
        priority: JobPriority.HIGH,
        idleTimeoutSeconds: 2,
      }),
      mix: [
        ['ok', 55],
        ['slow', 5],
        ['throw', 8],
        ['fatal', 4],
        ['async-throw', 6],
        ['exit', 8],
        ['uncaught', 4],
        ['hang', 8],
        ['hang-async', 2],
      ],
    },
    {
      name: 't-thread-mem',
      isolation: 'thread',
      share: 1.5,
      options: triggered({
        isolation: 'thread',
        execArgv: [],
        timeoutSeconds: 1,
        maxRetries: 1,
        retryDelayMs: 30,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 1,
        memoryLimitMb: 24,
        maxQueue: 10,
        recycleAfterRuns: 5,
      }),
      mix: [
        ['ok', 60],
        ['leak-heap', 30],
        ['throw', 10],
      ],
    },
    {
      name: 't-thread-hb',
      isolation: 'thread',
      share: 1.5,
      options: triggered({
        isolation: 'thread',
        execArgv: [],
        timeoutSeconds: 1,
        heartbeatTimeoutSeconds: 0.25,
        maxRetries: 1,
        retryDelayMs: 30,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 0.8,
        maxQueue: 10,
      }),
      mix: [
        ['ok', 45],
        ['slow', 10],
        ['no-heartbeat', 25],
        ['hang', 10],
        ['throw', 10],
      ],
    },
    {
      name: 't-proc',
      isolation: 'process',
      share: 4,
      options: triggered({
        isolation: 'process',
        execArgv: [],
        timeoutSeconds: 0.8,
        killGraceMs: 100,
        maxRetries: 2,
        retryDelayMs: 25,
        maxConsecutiveFailures: 4,
        breakerCooldownSeconds: 0.7,
        concurrency: 2,
        maxQueue: 25,
        priority: JobPriority.HIGH,
        recycleAfterRuns: 10,
      }),
      mix: [
        ['ok', 50],
        ['slow', 4],
        ['throw', 8],
        ['fatal', 3],
        ['async-throw', 5],
        ['exit', 8],
        ['uncaught', 4],
        ['hang', 6],
        ['ignore-sigterm', 6],
        ['spawn-grandchild', 6],
      ],
    },
    {
      name: 't-proc-mem',
      isolation: 'process',
      share: 1.5,
      options: triggered({
        isolation: 'process',
        execArgv: [],
        timeoutSeconds: 1,
        killGraceMs: 100,
        maxRetries: 1,
        retryDelayMs: 30,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 1,
        memoryLimitMb: 96,
        maxQueue: 10,
      }),
      mix: [
        ['ok', 55],
        ['leak-rss', 25],
        ['leak-heap', 5],
        ['exit', 15],
      ],
    },
    {
      name: 't-proc-hb',
      isolation: 'process',
      share: 1.5,
      options: triggered({
        isolation: 'process',
        execArgv: [],
        timeoutSeconds: 1,
        heartbeatTimeoutSeconds: 0.3,
        killGraceMs: 100,
        maxRetries: 1,
        retryDelayMs: 30,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 0.8,
        maxQueue: 10,
      }),
      mix: [
        ['ok', 45],
        ['slow', 10],
        ['no-heartbeat', 25],
        ['ignore-sigterm', 10],
        ['throw', 10],
      ],
    },
    {
      name: 't-inline',
      isolation: 'inline',
      share: 3,
      options: triggered({
        timeoutSeconds: 0.3,
        maxRetries: 2,
        retryDelayMs: 10,
        maxConsecutiveFailures: 5,
        breakerCooldownSeconds: 0.5,
        concurrency: 3,
        maxQueue: 30,
      }),
      mix: [
        ['ok', 55],
        ['throw', 10],
        ['fatal', 5],
        ['async-throw', 10],
        ['hang-async', 8],
        ['hang-ignore', 4],
        ['no-heartbeat', 8],
      ],
    },
    {
      name: 't-inline-hb',
      isolation: 'inline',
      share: 1,
      options: triggered({
        timeoutSeconds: 0.5,
        heartbeatTimeoutSeconds: 0.2,
        maxRetries: 1,
        retryDelayMs: 10,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 0.5,
        maxQueue: 10,
      }),
      mix: [
        ['ok', 55],
        ['slow', 10],
        ['no-heartbeat', 15],
        ['hang-async', 10],
        ['throw', 10],
      ],
    },
    // BULK: most of the volume. The chaos workers above get a seventh of the submissions (at the default
    // 200/s about 29/s, more than when they were the whole load); these get short runs and errors that
    // keep the sandbox, so the volume goes through reused threads and processes, which the chaos above
    // keeps replacing.
    ...(['thread', 'process', 'inline'] as const).map(
      (isolation): Spec => ({
        name: `b-${isolation === 'process' ? 'proc' : isolation}`,
        isolation,
        share: 36,
        bulk: { okMs: [1, 6] },
        options: triggered({
          ...(isolation === 'inline' ? {} : { isolation, execArgv: [] }),
          timeoutSeconds: 2,
          maxRetries: 1,
          retryDelayMs: 5,
          maxConsecutiveFailures: 8,
          breakerCooldownSeconds: 0.5,
          concurrency: 3,
          maxQueue: 400,
        }),
        mix: [
          ['ok', 96],
          ['throw', 3],
          ['async-throw', 1],
        ],
      }),
    ),
    // SCHEDULED and CONTINUOUS: no payload, chaos.mjs draws a mode from modesFor(ctx.config).
    {
      name: 's-thread',
      isolation: 'thread',
      options: {
        executionMode: WorkerExecutionMode.SCHEDULED,
        intervalSeconds: 0.5,
        isolation: 'thread',
        execArgv: [],
        timeoutSeconds: 0.4,
        maxRetries: 1,
        retryDelayMs: 20,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 1,
        memoryLimitMb: 24,
        priority: JobPriority.LOW,
      },
    },
    {
      name: 's-proc',
      isolation: 'process',
      options: {
        executionMode: WorkerExecutionMode.SCHEDULED,
        intervalSeconds: 0.8,
        isolation: 'process',
        execArgv: [],
        timeoutSeconds: 0.8,
        heartbeatTimeoutSeconds: 0.3,
        killGraceMs: 100,
        maxRetries: 1,
        retryDelayMs: 20,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 1,
        memoryLimitMb: 96,
        priority: JobPriority.LOW,
      },
    },
    {
      name: 's-inline',
      isolation: 'inline',
      options: {
        executionMode: WorkerExecutionMode.SCHEDULED,
        intervalSeconds: 0.6,
        timeoutSeconds: 0.3,
        heartbeatTimeoutSeconds: 0.2,
        maxRetries: 1,
        retryDelayMs: 10,
        maxConsecutiveFailures: 3,
        breakerCooldownSeconds: 0.5,
      },
    },
    {
      name: 'c-thread',
      isolation: 'thread',
      options: {
        executionMode: WorkerExecutionMode.CONTINUOUS,
        isolation: 'thread',
        execArgv: [],
        timeoutSeconds: 0.5,
        heartbeatTimeoutSeconds: 0.25,
        maxRetries: 1,
        retryDelayMs: 100,
        maxConsecutiveFailures: 4,
        breakerCooldownSeconds: 1,
        priority: JobPriority.LOW,
      },
    },
    {
      name: 'c-proc',
      isolation: 'process',
      options: {
        executionMode: WorkerExecutionMode.CONTINUOUS,
        isolation: 'process',
        // execArgv not given: this child inherits the host's flags (--import tsx), a slower cold start.
        timeoutSeconds: 0.8,
        killGraceMs: 100,
        maxRetries: 1,
        retryDelayMs: 100,
        maxConsecutiveFailures: 4,
        breakerCooldownSeconds: 1,
        priority: JobPriority.LOW,
      },
    },
  ];
}
