/**
 * The code that runs a worker function inside a sandbox (thread or child process): loads the module
 * once, builds the RunContext, and turns whatever happens into plain data. It never throws.
 */
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { serializeError } from '../errors.ts';
import type { RunContext, WorkerConfig, WorkerFn } from '../types.ts';
import type { AttemptResult, AttemptTask, SandboxMessage, StaticConfig } from './protocol.ts';

export interface Executor {
  execute(task: AttemptTask, signal: AbortSignal): Promise<AttemptResult>;
}

/** Loads `modulePath` on first use; `send` carries `started`/`heartbeat` messages to the supervisor. */
export function createExecutor(
  modulePath: string,
  send: (message: SandboxMessage) => void,
  checkCloneable: boolean,
): Executor {
  let staticConfig: StaticConfig | undefined;
  const load = moduleLoader(modulePath);

  return {
    async execute(task, signal) {
      if (task.config !== undefined) staticConfig = task.config;
      let fn: WorkerFn;
      try {
        fn = await load();
      } catch (error) {
        return { ok: false, kind: 'load', error: serializeError(error) };
      }
      const { runId, heartbeatEveryMs } = task;
      let lastBeat = 0;
      const ctx: RunContext = {
        name: staticConfig?.name ?? '',
        payload: task.payload,
        attempt: task.attempt,
        signal,
        heartbeat: () => {
          if (heartbeatEveryMs === 0) return;
          const now = Date.now();
          if (now - lastBeat < heartbeatEveryMs) return;
          lastBeat = now;
          send({ t: 'heartbeat', runId });
        },
        config: Object.freeze({ ...staticConfig, ...task.state } as WorkerConfig),
      };
      if (heartbeatEveryMs !== 0) send({ t: 'started', runId });
      try {
        const value = await fn(ctx);
        return { ok: true, value: checkCloneable ? cloneable(value) : value, heapUsed: heapUsed() };
      } catch (error) {
        return { ok: false, kind: 'error', error: serializeError(error), heapUsed: heapUsed() };
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

function heapUsed(): number {
  return getHeapStatistics().used_heap_size;
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
