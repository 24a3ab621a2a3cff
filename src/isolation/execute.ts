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
  execute(task: AttemptTask, signal: AbortSignal | LazyAbort): Promise<AttemptResult>;
}

/** Loads `modulePath` on first use; `send` carries `started`/`heartbeat` messages to the supervisor. */
export function createExecutor(
  modulePath: string,
  send: (message: SandboxMessage) => void,
  checkCloneable: boolean,
): Executor {
  let staticConfig: StaticConfig | undefined;
  const load = moduleLoader(modulePath);
  // Start loading now, while the sandbox boots and the first attempt travels; a failure is reported
  // (reason 'load') by the first attempt that awaits it.
  load().catch(() => undefined);

  return {
    async execute(task, signal) {
      if (task.config !== undefined) staticConfig = task.config;
      const { id, heartbeatEveryMs } = task;
      let fn: WorkerFn;
      try {
        fn = await load();
      } catch (error) {
        return ['failed', id, 'load', serializeError(error)];
      }
      let lastBeat = 0;
      const config = staticConfig;
      const ctx = new Context(
        config?.name ?? '',
        task.payload,
        task.attempt,
        () => {
          if (heartbeatEveryMs === 0) return;
          const now = Date.now();
          if (now - lastBeat < heartbeatEveryMs) return;
          lastBeat = now;
          send(['heartbeat', id]);
        },
        signal,
        () => ({ ...config, ...runtimeState(task) }) as WorkerConfig,
      );
      if (heartbeatEveryMs !== 0) send(['started', id]);
      try {
        const value = await fn(ctx);
        return ['ok', id, checkCloneable ? cloneable(value) : value];
      } catch (error) {
        return ['failed', id, 'error', serializeError(error)];
      }
    },
  };
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
