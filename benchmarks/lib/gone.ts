import { readdirSync, readFileSync } from 'node:fs';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';

/** One watch: when its processes / threads were first seen alive, and when all were gone. */
export interface Watch {
  /** Resolves with the hrtime (ns) of the poll that first saw them alive. */
  readonly seen: Promise<number>;
  /** Resolves with the hrtime (ns) of the first poll that saw every one gone; null if cancelled / given up. */
  readonly gone: Promise<number | null>;
  /** The pids or tids watched (known once `seen` resolved). */
  ids: number[];
  cancel(): void;
}

type Reply = { id: number; type: 'seen' | 'gone'; at: number | null; ids: (number | string)[] };

/** Tids of this process's OS threads (Linux). */
export function threadIds(): string[] {
  return readdirSync('/proc/self/task');
}

/** The `Threads:` count of /proc/self/status. */
export function threadCount(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
}

/**
 * Watches pids / tids from a thread of its own (lib/gone-watcher.mjs) polling /proc every 0.25 ms, so that
 * "gone" is observed even while the host's event loop is busy. One watch at a time.
 */
export class GoneWatcher {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #waiting = new Map<
    number,
    { seen: (at: number) => void; gone: (at: number | null) => void; watch: Watch }
  >();
  #nextId = 1;
  /** Resolves once the watcher thread polls. */
  readonly ready: Promise<void>;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#worker = new Worker(new URL('./gone-watcher.mjs', import.meta.url), {
      workerData: { port: port2 },
      transferList: [port2],
      execArgv: [], // plain JS: no need for the host's `--import tsx`, which slows the thread's start
    });
    let ready!: () => void;
    this.ready = new Promise((resolve) => {
      ready = resolve;
    });
    port1.on('message', (reply: Reply | { type: 'ready' }) => {
      if (reply.type === 'ready') {
        ready();
        return;
      }
      const entry = this.#waiting.get(reply.id);
      if (entry === undefined) return;
      entry.watch.ids = reply.ids.map(Number);
      if (reply.type === 'seen') entry.seen(reply.at as number);
      else {
        this.#waiting.delete(reply.id);
        entry.gone(reply.at);
      }
    });
  }

  /** Processes: the pids in `pidFile` (a JSON array, read as soon as it exists) or given. */
  pids(source: { pidFile: string } | { pids: number[] }): Watch {
    return this.#watch({ kind: 'pids', ...source });
  }

  /** Threads of this process created after `before` was taken (see {@link threadIds}). */
  threads(before: string[]): Watch {
    return this.#watch({ kind: 'threads', before });
  }

  #watch(command: Record<string, unknown>): Watch {
    const id = this.#nextId++;
    let seen!: (at: number) => void;
    let gone!: (at: number | null) => void;
    const watch: Watch = {
      seen: new Promise<number>((resolve) => {
        seen = resolve;
      }),
      gone: new Promise<number | null>((resolve) => {
        gone = resolve;
      }),
      ids: [],
      cancel: () => this.#port.postMessage({ id, kind: 'cancel' }),
    };
    this.#waiting.set(id, { seen, gone, watch });
    this.#port.postMessage({ id, ...command });
    return watch;
  }

  async close(): Promise<void> {
    this.#port.postMessage({ kind: 'quit' });
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    await exited;
    this.#port.close();
  }
}
