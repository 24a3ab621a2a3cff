/**
 * Messages between the supervisor and the code that runs a worker inside a thread or child process.
 * Both sides import these types; nothing here has behaviour.
 */
import type { SerializedError } from '../errors.ts';
import type { WorkerConfig } from '../types.ts';

/** The static part of `ctx.config`, sent once per sandbox. */
export type StaticConfig = Omit<
  WorkerConfig,
  'isEnabled' | 'isRunning' | 'consecutiveFailures' | 'lastRun' | 'lastSuccess' | 'lastError'
>;

/** The runtime part of `ctx.config`, sent with every attempt. */
export type RuntimeState = Pick<
  WorkerConfig,
  'isEnabled' | 'isRunning' | 'consecutiveFailures' | 'lastRun' | 'lastSuccess' | 'lastError'
>;

/** One attempt handed to a sandbox. */
export interface AttemptTask {
  runId: string;
  attempt: number;
  payload: unknown;
  state: RuntimeState;
  /** Sent with the first task of a sandbox only. */
  config?: StaticConfig;
  /** Minimum spacing of heartbeat messages; 0: heartbeats are not watched, send none. */
  heartbeatEveryMs: number;
}

/** How an attempt ended inside the sandbox. */
export type AttemptResult =
  | { ok: true; value: unknown; heapUsed?: number }
  | { ok: false; kind: 'error' | 'load'; error: SerializedError; heapUsed?: number };

/** Supervisor -> child process. */
export type ParentMessage = { t: 'run'; task: AttemptTask } | { t: 'abort'; runId: string } | { t: 'exit' };

/** Child process or thread -> supervisor. */
export type SandboxMessage =
  | { t: 'started'; runId: string }
  | { t: 'heartbeat'; runId: string }
  | { t: 'heap'; used: number }
  | { t: 'done'; runId: string; result: AttemptResult };
