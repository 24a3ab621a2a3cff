/**
 * What crosses the boundary between the supervisor and a thread or child process. Messages are flat
 * tuples: they are structured-cloned on every run, and a tuple of primitives clones at about half the
 * cost of nested objects (measured: 0.6 vs 1.2 µs a message), which is a visible share of a no-op run.
 */
import type { SerializedError } from '../errors.ts';
import type { WorkerConfig } from '../types.ts';

/** The static part of `ctx.config`, sent once per sandbox. */
export type StaticConfig = Omit<
  WorkerConfig,
  'isEnabled' | 'isRunning' | 'consecutiveFailures' | 'lastRun' | 'lastSuccess' | 'lastError'
>;

/** The runtime part of `ctx.config`. */
export type RuntimeState = Pick<
  WorkerConfig,
  'isEnabled' | 'isRunning' | 'consecutiveFailures' | 'lastRun' | 'lastSuccess' | 'lastError'
>;

/** One attempt handed to a sandbox. */
export interface AttemptTask {
  /**
   * The run's sequence number (`run.seq`): unique per orchestrator, but the same for every attempt of a
   * run — not an attempt id. The sandbox tags its messages for this attempt with it; since a sandbox
   * runs one attempt at a time, that tells them from messages of another run, not from those of an
   * earlier attempt of the same run.
   */
  id: number;
  attempt: number;
  payload: unknown;
  /** Minimum spacing of heartbeat messages; 0: heartbeats are not watched, send none. */
  heartbeatEveryMs: number;
  enabled: boolean;
  consecutiveFailures: number;
  lastRunAt: number | undefined;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  /** Sent with the first task of a sandbox only. */
  config?: StaticConfig;
}

export type PackedTask = [
  runSeq: number,
  attempt: number,
  payload: unknown,
  heartbeatEveryMs: number,
  enabled: boolean,
  consecutiveFailures: number,
  lastRunAt: number | undefined,
  lastSuccessAt: number | undefined,
  lastError: string | undefined,
  config: StaticConfig | undefined,
];

export function packTask(t: AttemptTask): PackedTask {
  return [
    t.id,
    t.attempt,
    t.payload,
    t.heartbeatEveryMs,
    t.enabled,
    t.consecutiveFailures,
    t.lastRunAt,
    t.lastSuccessAt,
    t.lastError,
    t.config,
  ];
}

export function unpackTask(p: PackedTask): AttemptTask {
  const task: AttemptTask = {
    id: p[0],
    attempt: p[1],
    payload: p[2],
    heartbeatEveryMs: p[3],
    enabled: p[4],
    consecutiveFailures: p[5],
    lastRunAt: p[6],
    lastSuccessAt: p[7],
    lastError: p[8],
  };
  if (p[9] !== undefined) task.config = p[9];
  return task;
}

/** `ctx.config`'s runtime fields, as the worker sees them while its attempt runs. */
export function runtimeState(t: AttemptTask): RuntimeState {
  const state: RuntimeState = {
    isEnabled: t.enabled,
    isRunning: true,
    consecutiveFailures: t.consecutiveFailures,
  };
  if (t.lastRunAt !== undefined) state.lastRun = new Date(t.lastRunAt);
  if (t.lastSuccessAt !== undefined) state.lastSuccess = new Date(t.lastSuccessAt);
  if (t.lastError !== undefined) state.lastError = t.lastError;
  return state;
}

/** How an attempt ended inside the sandbox (a thread's return value, a child's last message). */
export type AttemptResult =
  | [type: 'ok', runSeq: number, value: unknown]
  | [type: 'failed', runSeq: number, kind: 'error' | 'load', error: SerializedError];

/**
 * Supervisor -> child process. An attempt is sent as its packed task itself, with no envelope: one flat
 * tuple to clone each way per run. It is told from the others by its first element, a number.
 */
export type ParentMessage = PackedTask | [type: 'abort', runSeq: number] | [type: 'exit'];

export function isRunMessage(message: ParentMessage): message is PackedTask {
  return typeof message[0] === 'number';
}

/**
 * Child process or thread -> supervisor, besides the result. A thread reports `started` per attempt
 * (heartbeats watched only); a child process reports `loaded` once, when its module is imported, and the
 * supervisor starts the heartbeat watch of an attempt when it is sent to a loaded child (or when `loaded`
 * comes, for the first): one message each way per run.
 */
export type SandboxMessage =
  | [type: 'started' | 'heartbeat', runSeq: number]
  | [type: 'loaded']
  | [type: 'heap', used: number]
  | AttemptResult;
