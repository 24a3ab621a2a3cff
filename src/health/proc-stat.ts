import { existsSync, readFileSync } from 'node:fs';

/** Linux exposes /proc; elsewhere the sampler uses pidusage. */
export const hasProcFs = existsSync('/proc/self/stat');

// USER_HZ, the unit of utime/stime in /proc/<pid>/stat, is 100 on every Linux ABI.
const TICKS_PER_SECOND = 100;

/** Bytes per page: learnt once by comparing this process's RSS in pages (/proc/self/statm) and in bytes. */
let pageSize: number | undefined;
function pageBytes(): number {
  if (pageSize !== undefined) return pageSize;
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[1]);
    const ratio = process.memoryUsage().rss / pages;
    // The nearest power of two: the two readings are a few microseconds apart.
    pageSize = 2 ** Math.round(Math.log2(ratio));
  } catch {
    pageSize = 4096;
  }
  return pageSize;
}

interface Previous {
  ticks: number;
  at: number;
}

/**
 * CPU % and RSS of processes straight from /proc/<pid>/stat: one small synchronous read per process and
 * sample (no thread-pool round trips, no child spawned), which keeps sampling 50 sandboxes at 200 ms in
 * the tens of microseconds each. CPU % is over the time since the previous reading of that pid (0 for
 * the first).
 */
export class ProcStatReader {
  readonly #previous = new Map<number, Previous>();

  read(pid: number): { cpuPercent: number; memoryBytes: number } | undefined {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      this.#previous.delete(pid);
      return undefined;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After comm: [0] state ... [11] utime [12] stime ... [21] rss (pages).
    const ticks = Number(fields[11]) + Number(fields[12]);
    const memoryBytes = Number(fields[21]) * pageBytes();
    const at = performance.now();
    const before = this.#previous.get(pid);
    this.#previous.set(pid, { ticks, at });
    const elapsedSeconds = before === undefined ? 0 : (at - before.at) / 1000;
    const cpuPercent =
      elapsedSeconds > 0
        ? ((ticks - (before as Previous).ticks) / TICKS_PER_SECOND / elapsedSeconds) * 100
        : 0;
    return { cpuPercent, memoryBytes };
  }

  /** Forgets pids that are no longer sampled. */
  retain(pids: ReadonlySet<number>): void {
    for (const pid of this.#previous.keys()) if (!pids.has(pid)) this.#previous.delete(pid);
  }

  clear(): void {
    this.#previous.clear();
  }
}
