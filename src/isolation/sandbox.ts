import type { FailureReason } from '../errors.ts';
import type { AttemptTask } from './protocol.ts';

/** What the supervisor hears from a running attempt. */
export interface AttemptHooks {
  /** The worker function was called (the heartbeat clock starts). */
  onStarted(): void;
  onHeartbeat(): void;
}

/** How an attempt ended, as the supervisor sees it. */
export type SandboxOutcome =
  | { ok: true; value: unknown }
  | { ok: false; reason: Extract<FailureReason, 'error' | 'load' | 'crash' | 'memory'>; error: Error };

/**
 * One place a worker runs, one attempt at a time: an inline slot, a thread, or a child process. The
 * supervisor never checks which it has.
 */
export interface Sandbox {
  readonly kind: 'inline' | 'thread' | 'process';
  /** What the health sampler reads; undefined for an inline sandbox (nothing to measure apart). */
  readonly probe: Probe | undefined;
  /** Attempts handed to it so far. */
  readonly runs: number;
  /** False once it crashed, was terminated or closed: it takes no more attempts. */
  readonly usable: boolean;
  /** Never rejects. After `terminate()` it may never settle. */
  run(task: AttemptTask, hooks: AttemptHooks): Promise<SandboxOutcome>;
  /** Asks the running attempt of run `runSeq` to stop cooperatively (aborts `ctx.signal` where it can). */
  abort(runSeq: number): void;
  /** Ends it now (thread terminated; process tree SIGTERM then SIGKILL). Resolves when it is gone. */
  terminate(): Promise<void>;
  /** Ends an idle sandbox politely. Resolves when it is gone. */
  close(): Promise<void>;
}

/** What the health sampler can read from a sandbox. */
export type Probe = ThreadProbe | ProcessProbe;

/** A thread: event-loop utilisation and the heap use it reports. */
export interface ThreadProbe {
  readonly kind: 'thread';
  /** Event-loop utilisation since the previous call, 0..1; undefined before the thread exists. */
  utilization(): number | undefined;
  /** Last heap use the thread reported, in bytes. */
  readonly heapUsed: number | undefined;
}

/** A process: its pid (CPU and RSS of the child), and its cgroup if it has one (memory of the tree). */
export interface ProcessProbe {
  readonly kind: 'process';
  readonly pid: number | undefined;
  readonly cgroup: string | undefined;
}
