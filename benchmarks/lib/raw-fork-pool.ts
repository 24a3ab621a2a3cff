import { type ChildProcess, fork, type Serializable } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('../fixtures/fork-child.mjs', import.meta.url));

/** How a fork pool's children are started and spoken to. */
export interface ForkPoolSpec {
  script: string;
  args: string[];
  execArgv?: string[];
  /** The message sent for one run. */
  request(payload: unknown): Serializable;
  /** The run's result, from the child's reply. */
  result(reply: unknown): unknown;
}

/** The simplest fork pool: N children, one task each at a time, a FIFO in the parent. */
export class ForkPool {
  readonly #children: ChildProcess[] = [];
  readonly #idle: ChildProcess[] = [];
  readonly #queue: { payload: unknown; resolve: (v: unknown) => void }[] = [];
  readonly #pending = new Map<ChildProcess, (v: unknown) => void>();
  readonly #spec: ForkPoolSpec;

  constructor(spec: ForkPoolSpec, size: number) {
    this.#spec = spec;
    for (let i = 0; i < size; i++) {
      const child = fork(spec.script, spec.args, {
        serialization: 'advanced',
        stdio: 'ignore',
        ...(spec.execArgv === undefined ? {} : { execArgv: spec.execArgv }),
      });
      child.on('message', (message: unknown) => {
        const resolve = this.#pending.get(child);
        this.#pending.delete(child);
        resolve?.(spec.result(message));
        this.#next(child);
      });
      this.#children.push(child);
      this.#idle.push(child);
    }
  }

  run(payload: unknown): Promise<unknown> {
    return new Promise((resolve) => {
      this.#queue.push({ payload, resolve });
      const child = this.#idle.pop();
      if (child !== undefined) this.#next(child);
    });
  }

  #next(child: ChildProcess): void {
    const task = this.#queue.shift();
    if (task === undefined) {
      this.#idle.push(child);
      return;
    }
    this.#pending.set(child, task.resolve);
    child.send(this.#spec.request(task.payload));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#children.map((child) => {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        return exited;
      }),
    );
  }
}

/** Children that import the job module and answer each message with its result. */
export class RawForkPool extends ForkPool {
  constructor(jobFile: string, size: number) {
    super(
      {
        script: childScript,
        args: [jobFile],
        request: (payload) => ({ id: 0, payload }) as Serializable,
        result: (reply) => (reply as { result: unknown }).result,
      },
      size,
    );
  }
}
