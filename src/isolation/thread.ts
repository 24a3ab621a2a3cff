import { once } from 'node:events';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { deserializeError, notRetryable } from '../errors.ts';
import { sandboxExecArgv, threadEntryPath } from './entry-files.ts';
import { type AttemptResult, type AttemptTask, packTask, type SandboxMessage } from './protocol.ts';
import type { AttemptHooks, Sandbox, SandboxOutcome, ThreadProbe } from './sandbox.ts';
import type { ThreadData } from './thread-entry.ts';

/** The longest a thread still loading its entry is waited for before it is terminated anyway. */
const LOAD_WAIT_MS = 5000;

export interface ThreadSandboxOptions {
  modulePath: string;
  execArgv: readonly string[] | undefined;
  memoryLimitMb: number | undefined;
  heapReportMs: number;
  /** An error thrown in the thread outside any attempt (a stray timer): the thread is gone. */
  onStrayError(error: Error): void;
}

/**
 * A worker thread: a one-thread piscina pool, so that each thread can be terminated, recycled and
 * measured on its own.
 *
 * `atomics: 'disabled'` keeps the idle thread's event loop turning: a stray timer left by a finished
 * run then fires while the thread is idle (killing it, reported through `onStrayError`) instead of
 * failing the next, unrelated run when piscina wakes the thread from `Atomics.wait`.
 */
export class ThreadSandbox implements Sandbox, ThreadProbe {
  readonly kind = 'thread';
  readonly probe = this;
  #runs = 0;
  #usable = true;
  #heapUsed: number | undefined;
  #hooks: AttemptHooks | undefined;
  /**
   * The run sequence number of the attempt in progress: messages tagged with another run (a stray
   * heartbeat timer left by an earlier run) are ignored.
   */
  #currentRun = -1;
  #thread: Worker | undefined;
  #threadExit: Promise<unknown> = Promise.resolve();
  /** Resolves once the thread has loaded its entry (piscina's `workerCreate`: the thread is ready). */
  readonly #loaded: Promise<void>;
  #ready = false;
  #elu: EventLoopUtilization | undefined;
  readonly #pool: Piscina;

  constructor(options: ThreadSandboxOptions) {
    const data: ThreadData = {
      modulePath: options.modulePath,
      heapReportMs: options.heapReportMs,
    };
    this.#pool = new Piscina({
      filename: threadEntryPath,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'disabled',
      // piscina's run-time and wait-time histograms are two native HDR histograms per pool, unused here.
      // With one pool per thread they were made again for every replaced thread and freed only when a
      // major GC happened to collect the pool (they weigh nothing on the JS heap): the host's RSS grew by
      // about 0.3 MB per replaced thread (README, Soak).
      recordTiming: false,
      workerData: data,
      // Left unset, a thread inherits the host's flags and Node drops those a thread cannot take
      // (--expose-gc, ...); given explicitly, such a flag would make the thread fail to start.
      ...(options.execArgv === undefined ? {} : { execArgv: sandboxExecArgv(options.execArgv) }),
      ...(options.memoryLimitMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: options.memoryLimitMb } }),
    });
    this.#loaded = new Promise<void>((resolve) =>
      this.#pool.once('workerCreate', () => {
        this.#ready = true;
        resolve();
      }),
    );
    this.#pool.on('message', (message: SandboxMessage) => this.#onMessage(message));
    this.#pool.on('error', (error: Error) => {
      this.#usable = false;
      options.onStrayError(error);
    });
  }

  get runs(): number {
    return this.#runs;
  }

  get usable(): boolean {
    return this.#usable;
  }

  get heapUsed(): number | undefined {
    return this.#heapUsed;
  }

  utilization(): number | undefined {
    const thread = this.#thread;
    if (thread === undefined || !this.#usable) return undefined;
    const now = thread.performance.eventLoopUtilization();
    const delta = this.#elu === undefined ? now : thread.performance.eventLoopUtilization(now, this.#elu);
    this.#elu = now;
    return delta.utilization;
  }

  run(task: AttemptTask, hooks: AttemptHooks): Promise<SandboxOutcome> {
    this.#runs++;
    this.#hooks = hooks;
    this.#currentRun = task.id;
    let pending: Promise<AttemptResult>;
    try {
      pending = this.#pool.run(packTask(task));
    } catch (error) {
      // Thrown before the task reached a thread: the thread cannot start (bad execArgv).
      this.#usable = false;
      return Promise.resolve(classifyStartFailure(error));
    }
    this.#captureThread();
    return pending.then(
      (result: AttemptResult) => {
        this.#hooks = undefined;
        if (result[0] === 'ok') return { ok: true, value: result[2] };
        if (result[2] === 'load') this.#usable = false;
        return { ok: false, reason: result[2], error: deserializeError(result[3]) };
      },
      (error: unknown) => {
        this.#hooks = undefined;
        this.#usable = false;
        return payloadFailure(error, task.payload) ?? classifyThreadDeath(error);
      },
    );
  }

  abort(): void {
    // A thread cannot be interrupted politely; the supervisor terminates it.
  }

  async terminate(): Promise<void> {
    this.#usable = false;
    if (this.#thread !== undefined && !this.#ready) {
      // piscina require()s the entry, synchronously. A thread terminated in the middle of a synchronous
      // module load can abort the whole host process in Node 20 ("FATAL ERROR: v8::Module::IsGraphAsync
      // ... must be used on an instantiated module", seen in the soak when a timeout hit a thread still
      // starting, when the entry was an ES module required under tsx). The built entry is CommonJS now,
      // but the one run from source still goes through the loader; so a thread still loading is
      // terminated once loaded — corral's own entry, a few ms; the worker's module is imported
      // afterwards, asynchronously — or after LOAD_WAIT_MS.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#loaded,
        this.#threadExit,
        new Promise((resolve) => {
          timer = setTimeout(resolve, LOAD_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.#pool.destroy();
    // piscina does not wait for a thread it already dropped (after a crash); this does.
    await this.#threadExit;
  }

  close(): Promise<void> {
    return this.terminate();
  }

  #captureThread(): void {
    if (this.#thread !== undefined) return;
    const thread = this.#pool.threads[0];
    if (thread === undefined) return;
    this.#thread = thread;
    this.#threadExit =
      thread.threadId === -1 ? Promise.resolve() : once(thread, 'exit').catch(() => undefined);
  }

  #onMessage(message: SandboxMessage): void {
    switch (message[0]) {
      case 'heap':
        this.#heapUsed = message[1];
        break;
      case 'started':
        if (message[1] === this.#currentRun) this.#hooks?.onStarted();
        break;
      case 'heartbeat':
        if (message[1] === this.#currentRun) this.#hooks?.onHeartbeat();
        break;
    }
  }
}

function classifyStartFailure(error: unknown): SandboxOutcome {
  const cause = error instanceof Error ? error : new Error(String(error));
  if ((cause as { code?: unknown }).code === 'ERR_WORKER_INVALID_EXEC_ARGV') {
    return { ok: false, reason: 'load', error: cause };
  }
  return {
    ok: false,
    reason: 'crash',
    error: new Error(`the thread could not start: ${cause.message}`, { cause }),
  };
}

/**
 * piscina also rejects when the payload could not be posted to the thread: a `DataCloneError` (a
 * function, a symbol...) or a `RangeError` from structured clone running out of stack on a too-deep
 * object. The same input fails the same way, so that is an error, not retried — not a crash. A
 * RangeError can also come from the thread itself, so it counts as the payload's only if cloning the
 * payload here fails too (a check paid only on this failure path).
 */
function payloadFailure(error: unknown, payload: unknown): SandboxOutcome | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name !== 'DataCloneError') {
    if (!(error instanceof RangeError)) return undefined;
    try {
      structuredClone(payload);
      return undefined;
    } catch {
      // The payload it is.
    }
  }
  return {
    ok: false,
    reason: 'error',
    error: notRetryable(`the payload cannot be sent to the thread: ${error.message}`, error),
  };
}

/** piscina rejects when the thread died: an out-of-memory exit, process.exit(), or an uncaught error. */
function classifyThreadDeath(error: unknown): SandboxOutcome {
  const cause = error instanceof Error ? error : new Error(String(error));
  if ((cause as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { ok: false, reason: 'memory', error: cause };
  }
  const message = /^worker exited with code/.test(cause.message)
    ? `thread ${cause.message.replace(/^worker /, '')}`
    : `thread died on an uncaught error: ${cause.message}`;
  return { ok: false, reason: 'crash', error: new Error(message, { cause }) };
}
