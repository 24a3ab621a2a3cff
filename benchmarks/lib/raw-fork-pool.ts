import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('../fixtures/fork-child.mjs', import.meta.url));

/** The simplest fork pool: N children, one task each at a time, a FIFO in the parent. */
export class RawForkPool {
  readonly #children: ChildProcess[] = [];
  readonly #idle: ChildProcess[] = [];
  readonly #queue: { payload: unknown; resolve: (v: unknown) => void }[] = [];
  readonly #pending = new Map<ChildProcess, (v: unknown) => void>();

  constructor(jobFile: string, size: number) {
    for (let i = 0; i < size; i++) {
      const child = fork(childScript, [jobFile], { serialization: 'advanced', stdio: 'ignore' });
      child.on('message', (message: { result: unknown }) => {
        const resolve = this.#pending.get(child);
        this.#pending.delete(child);
        resolve?.(message.result);
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
    child.send({ id: 0, payload: task.payload });
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
