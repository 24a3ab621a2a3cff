import { type ChildProcess, fork, type Serializable } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('../fixtures/fork-child.mjs', import.meta.url));
const echoScript = fileURLToPath(new URL('../fixtures/raw-echo.mjs', import.meta.url));

/**
 * The simplest fork pool: N children ('advanced' serialization, as corral's), one message in flight
 * per child, a FIFO in the parent.
 */
export class RawForkPool {
  readonly #children: ChildProcess[] = [];
  readonly #idle: ChildProcess[] = [];
  readonly #queue: { payload: unknown; resolve: (v: unknown) => void }[] = [];
  readonly #pending = new Map<ChildProcess, (v: unknown) => void>();
  readonly #bare: boolean;

  /** Children that import `jobFile` and answer `{ id, payload }` with `{ id, result }` (the job's result). */
  constructor(jobFile: string, size: number);
  /** `bare`: children that send each message straight back, the payload sent as is (no job, no envelope). */
  constructor(bare: 'echo', size: number);
  constructor(jobFile: string, size: number) {
    this.#bare = jobFile === 'echo';
    const [script, args] = this.#bare ? [echoScript, []] : [childScript, [jobFile]];
    for (let i = 0; i < size; i++) {
      const child = fork(script, args, { serialization: 'advanced', stdio: 'ignore' });
      child.on('message', (message: unknown) => {
        const resolve = this.#pending.get(child);
        this.#pending.delete(child);
        resolve?.(this.#bare ? message : (message as { result: unknown }).result);
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
    child.send(this.#bare ? (task.payload as Serializable) : { id: 0, payload: task.payload });
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
