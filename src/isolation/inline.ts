import type { WorkerConfig, WorkerFn } from '../types.ts';
import { Context, LazyAbort } from './context.ts';
import type { Pool } from './pool.ts';
import { type AttemptTask, runtimeState, type StaticConfig } from './protocol.ts';
import type { AttemptHooks, Sandbox, SandboxOutcome } from './sandbox.ts';

/**
 * A worker function run in the host. It cannot be killed: a timeout, cancellation or stop aborts
 * `ctx.signal` and the attempt fails at once; the function's eventual result is ignored.
 */
export class InlineSandbox implements Sandbox {
  readonly kind = 'inline';
  readonly probe = undefined;
  #runs = 0;
  #usable = true;
  #abort: LazyAbort | undefined;
  readonly #load: () => Promise<WorkerFn>;
  readonly #config: () => StaticConfig;

  readonly #name: string;

  constructor(name: string, load: () => Promise<WorkerFn>, config: () => StaticConfig) {
    this.#name = name;
    this.#load = load;
    this.#config = config;
  }

  get runs(): number {
    return this.#runs;
  }

  get usable(): boolean {
    return this.#usable;
  }

  async run(task: AttemptTask, hooks: AttemptHooks): Promise<SandboxOutcome> {
    this.#runs++;
    const abort = new LazyAbort();
    this.#abort = abort;
    let fn: WorkerFn;
    try {
      fn = await this.#load();
    } catch (error) {
      this.#usable = false;
      return { ok: false, reason: 'load', error: toError(error) };
    }
    const config = this.#config;
    const ctx = new Context(
      this.#name,
      task.payload,
      task.attempt,
      () => hooks.onHeartbeat(),
      abort,
      () => ({ ...config(), ...runtimeState(task) }) as WorkerConfig,
    );
    hooks.onStarted();
    try {
      return { ok: true, value: await fn(ctx) };
    } catch (error) {
      return { ok: false, reason: 'error', error: toError(error) };
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  abort(): void {
    this.#abort?.abort(new Error('run aborted by the supervisor'));
  }

  async terminate(): Promise<void> {
    this.#usable = false;
    this.abort();
  }

  async close(): Promise<void> {
    this.#usable = false;
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error), { cause: error });
}

/**
 * The "pool" of an inline worker: an inline sandbox holds nothing between attempts, so each attempt gets
 * a fresh one and there is nothing to keep, recycle or close. (A full SandboxPool per inline worker would
 * cost about a kilobyte each, idle — which matters with many thousands of registered workers.)
 */
export class InlinePool implements Pool {
  readonly #name: string;
  readonly #load: () => Promise<WorkerFn>;
  readonly #config: () => StaticConfig;
  readonly #running = new Set<InlineSandbox>();

  constructor(name: string, load: () => Promise<WorkerFn>, config: () => StaticConfig) {
    this.#name = name;
    this.#load = load;
    this.#config = config;
  }

  acquire(): InlineSandbox {
    const sandbox = new InlineSandbox(this.#name, this.#load, this.#config);
    this.#running.add(sandbox);
    return sandbox;
  }

  release(sandbox: Sandbox): void {
    this.#running.delete(sandbox as InlineSandbox);
  }

  discard(sandbox: Sandbox): Promise<void> {
    this.#running.delete(sandbox as InlineSandbox);
    return sandbox.terminate();
  }

  async closeAll(): Promise<void> {
    for (const sandbox of this.#running) await sandbox.terminate();
    this.#running.clear();
  }
}
