import type { RunContext, WorkerConfig } from '../types.ts';

/**
 * An abort signal made only when the worker asks for it: most workers never read `ctx.signal`, and an
 * AbortController per run costs more than the rest of a run's bookkeeping together.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** The `ctx` a worker function receives; `signal` and `config` are built on first use. */
export class Context implements RunContext {
  readonly name: string;
  readonly payload: unknown;
  readonly attempt: number;
  /** A bound function: workers may destructure it (`const { heartbeat } = ctx`). */
  readonly heartbeat: () => void;
  readonly #abort: LazyAbort | AbortSignal;
  readonly #makeConfig: () => WorkerConfig;
  #config: Readonly<WorkerConfig> | undefined;

  constructor(
    name: string,
    payload: unknown,
    attempt: number,
    heartbeat: () => void,
    abort: LazyAbort | AbortSignal,
    makeConfig: () => WorkerConfig,
  ) {
    this.name = name;
    this.payload = payload;
    this.attempt = attempt;
    this.heartbeat = heartbeat;
    this.#abort = abort;
    this.#makeConfig = makeConfig;
  }

  get signal(): AbortSignal {
    return this.#abort instanceof LazyAbort ? this.#abort.signal : this.#abort;
  }

  get config(): Readonly<WorkerConfig> {
    this.#config ??= Object.freeze(this.#makeConfig());
    return this.#config;
  }
}
