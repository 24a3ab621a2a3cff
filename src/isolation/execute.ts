/**
 * The code that runs a worker function inside a sandbox (thread or child process): loads the module
 * once, builds the RunContext, and turns whatever happens into plain data. It never throws.
 */
import { pathToFileURL } from 'node:url';
import { serializeError } from '../errors.ts';
import type { WorkerConfig, WorkerFn } from '../types.ts';
import { Context, type LazyAbort } from './context.ts';
import {
  type AttemptResult,
  type AttemptTask,
  runtimeState,
  type SandboxMessage,
  type StaticConfig,
} from './protocol.ts';

export interface Executor {
  /**
   * Runs one attempt. Once the module is loaded and when the worker function returns a plain value (or
   * throws), the result comes back at once, not as a promise: the reply can be sent without waiting for
   * further ticks.
   */
  execute(task: AttemptTask, signal: AbortSignal | LazyAbort): AttemptResult | Promise<AttemptResult>;
}

export interface ExecutorOptions {
  /** Check that a result can be cloned before it is returned (threads). */
  checkCloneable: boolean;
  /** Send `started` when the worker function is called (threads); a child reports `loaded` instead. */
  reportStarted: boolean;
  /**
   * Called once the module is loaded (not if it fails to load), before any attempt calls the worker
   * function: it is registered on the load first, so it runs before the attempts awaiting it resume.
   */
  onLoaded?: () => void;
}

/** Loads `modulePath` at once; `send` carries `started`/`heartbeat` messages to the supervisor. */
export function createExecutor(
  modulePath: string,
  send: (message: SandboxMessage) => void,
  { checkCloneable, reportStarted, onLoaded }: ExecutorOptions,
): Executor {
  let staticConfig: StaticConfig | undefined;
  let loadedFn: WorkerFn | undefined;
  const load = moduleLoader(modulePath);
  // Start loading now, while the sandbox boots and the first attempt travels; a failure is reported
  // (reason 'load') by the first attempt that awaits it. Registered first, so `loadedFn` is set and
  // `onLoaded` called before any attempt waiting for the load resumes.
  load()
    .then((fn) => {
      loadedFn = fn;
      onLoaded?.();
    })
    .catch(() => undefined);

  const ok = (id: number, value: unknown): AttemptResult => {
    try {
      return ['ok', id, checkCloneable ? cloneable(value) : value];
    } catch (error) {
      return ['failed', id, 'error', serializeError(error)];
    }
  };
  const failed = (id: number, error: unknown): AttemptResult => [
    'failed',
    id,
    'error',
    serializeError(error),
  ];

  function call(fn: WorkerFn, task: AttemptTask, signal: AbortSignal | LazyAbort) {
    const { id, heartbeatEveryMs } = task;
    let lastBeat = 0;
    const config = staticConfig;
    const ctx = new Context(
      config?.name ?? '',
      task.payload,
      task.attempt,
      heartbeatEveryMs === 0
        ? ignoreBeat
        : () => {
            const now = Date.now();
            if (now - lastBeat < heartbeatEveryMs) return;
            lastBeat = now;
            send(['heartbeat', id]);
          },
      signal,
      () => ({ ...config, ...runtimeState(task) }) as WorkerConfig,
    );
    if (reportStarted && heartbeatEveryMs !== 0) send(['started', id]);
    let value: unknown;
    try {
      value = fn(ctx);
    } catch (error) {
      return failed(id, error);
    }
    if (!isThenable(value)) return ok(id, value);
    return Promise.resolve(value).then(
      (v) => ok(id, v),
      (error: unknown) => failed(id, error),
    );
  }

  return {
    execute(task, signal) {
      if (task.config !== undefined) staticConfig = task.config;
      if (loadedFn !== undefined) return call(loadedFn, task, signal);
      return load().then(
        (fn) => call(fn, task, signal),
        (error: unknown): AttemptResult => ['failed', task.id, 'load', serializeError(error)],
      );
    },
  };
}

function ignoreBeat(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Imports a worker module once and returns its default export (`module.exports` for CommonJS). */
export function moduleLoader(modulePath: string): () => Promise<WorkerFn> {
  let loading: Promise<WorkerFn> | undefined;
  return () => {
    loading ??= import(pathToFileURL(modulePath).href).then((mod: Record<string, unknown>) => {
      if (typeof mod.default !== 'function') {
        throw new TypeError(`${modulePath} has no default export (or module.exports) that is a function`);
      }
      return mod.default as WorkerFn;
    });
    return loading;
  };
}

/**
 * In a thread, a result that cannot be cloned would crash the thread while piscina posts the reply;
 * check objects here so the attempt fails as a plain error instead. Primitives pass untouched.
 */
function cloneable(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    try {
      structuredClone(value);
    } catch (error) {
      throw new TypeError(
        `the worker's result cannot be sent to the supervisor: ${(error as Error).message}`,
      );
    }
  }
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`the worker's result cannot be sent to the supervisor: it is a ${typeof value}`);
  }
  return value;
}
