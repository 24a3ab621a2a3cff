import { readStat } from '../isolation/procfs.ts';

// USER_HZ, the unit of utime/stime in /proc/<pid>/stat, is 100 on every Linux ABI.
const TICKS_PER_SECOND = 100;

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
    const stat = readStat(pid);
    if (stat === undefined) {
      this.#previous.delete(pid);
      return undefined;
    }
    const ticks = stat.cpuTicks;
    const at = performance.now();
    const before = this.#previous.get(pid);
    this.#previous.set(pid, { ticks, at });
    const elapsedSeconds = before === undefined ? 0 : (at - before.at) / 1000;
    const cpuPercent =
      elapsedSeconds > 0
        ? ((ticks - (before as Previous).ticks) / TICKS_PER_SECOND / elapsedSeconds) * 100
        : 0;
    return { cpuPercent, memoryBytes: stat.rssBytes };
  }

  /** Forgets pids that are no longer sampled. */
  retain(pids: ReadonlySet<number>): void {
    for (const pid of this.#previous.keys()) if (!pids.has(pid)) this.#previous.delete(pid);
  }

  clear(): void {
    this.#previous.clear();
  }
}
