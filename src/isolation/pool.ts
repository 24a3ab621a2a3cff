import { type Clock, type Deadline, DeadlineList } from '../clock.ts';
import type { Sandbox } from './sandbox.ts';

/** What the orchestrator needs of a worker's sandboxes. */
export interface Pool {
  acquire(): Sandbox;
  /** The attempt ended normally. */
  release(sandbox: Sandbox): void;
  /** The attempt was ended by force or the sandbox died: end it for good. */
  discard(sandbox: Sandbox): Promise<void>;
  /** Ends every sandbox and resolves when all are gone. */
  closeAll(): Promise<void>;
}

export interface PoolOptions {
  /** Replace a sandbox after this many attempts; undefined: never (only when it is no longer usable). */
  recycleAfterRuns: number | undefined;
  /** Close a sandbox idle this long; 0: at once after each attempt. */
  idleTimeoutMs: number;
}

/**
 * The sandboxes of one worker: reuses an idle one (the most recently used, still warm), creates one when
 * none is idle, retires them after `recycleAfterRuns`, closes them after `idleTimeoutMs`, and tracks every
 * ending so that `closeAll()` resolves only when no thread or process of this worker is left.
 */
export class SandboxPool<S extends Sandbox = Sandbox> implements Pool {
  readonly #idle: S[] = [];
  readonly #busy = new Set<S>();
  /** Idle sandboxes' closing times, in a shared list: no timer set and cleared per attempt. */
  readonly #idleTimers = new Map<S, Deadline>();
  readonly #ending = new Set<Promise<void>>();
  readonly #create: () => S;
  readonly #options: PoolOptions;
  readonly #idleDeadlines: DeadlineList;

  constructor(create: () => S, options: PoolOptions, clock: Clock) {
    this.#create = create;
    this.#options = options;
    this.#idleDeadlines = DeadlineList.weak(clock);
  }

  acquire(): S {
    let sandbox = this.#idle.pop();
    while (sandbox !== undefined && !sandbox.usable) {
      void this.#retire(sandbox, 'terminate');
      sandbox = this.#idle.pop();
    }
    if (sandbox === undefined) {
      sandbox = this.#create();
    } else {
      this.#idleTimers.get(sandbox)?.cancel();
      this.#idleTimers.delete(sandbox);
    }
    this.#busy.add(sandbox);
    return sandbox;
  }

  /** The attempt ended normally: keep the sandbox for the next one unless it is due for replacement. */
  release(sandbox: S): void {
    if (!this.#busy.delete(sandbox)) return;
    const { recycleAfterRuns, idleTimeoutMs } = this.#options;
    if (!sandbox.usable) {
      void this.#retire(sandbox, 'terminate');
    } else if ((recycleAfterRuns !== undefined && sandbox.runs >= recycleAfterRuns) || idleTimeoutMs === 0) {
      void this.#retire(sandbox, 'close');
    } else {
      this.#idle.push(sandbox);
      if (Number.isFinite(idleTimeoutMs)) {
        this.#idleTimers.set(
          sandbox,
          this.#idleDeadlines.add(idleTimeoutMs, () => this.#closeIdle(sandbox)),
        );
      }
    }
  }

  /** The attempt was killed (timeout, stall, memory, abort) or the sandbox died: end it for good. */
  discard(sandbox: S): Promise<void> {
    this.#busy.delete(sandbox);
    return this.#retire(sandbox, 'terminate');
  }

  /** Ends every sandbox (busy ones are terminated) and waits until all are gone. */
  async closeAll(): Promise<void> {
    for (const sandbox of this.#busy) void this.#retire(sandbox, 'terminate');
    this.#busy.clear();
    for (const sandbox of this.#idle.splice(0)) void this.#retire(sandbox, 'close');
    // Sandboxes retired while waiting (an attempt released meanwhile) are waited for too.
    while (this.#ending.size > 0) await Promise.all(this.#ending);
  }

  #closeIdle(sandbox: S): void {
    this.#idleTimers.delete(sandbox);
    const index = this.#idle.indexOf(sandbox);
    if (index === -1) return;
    this.#idle.splice(index, 1);
    void this.#retire(sandbox, 'close');
  }

  #retire(sandbox: S, how: 'close' | 'terminate'): Promise<void> {
    this.#idleTimers.get(sandbox)?.cancel();
    this.#idleTimers.delete(sandbox);
    const ending = (how === 'close' ? sandbox.close() : sandbox.terminate()).catch(() => undefined);
    this.#ending.add(ending);
    void ending.then(() => this.#ending.delete(ending));
    return ending;
  }
}
