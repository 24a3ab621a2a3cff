import { closeSync, openSync, readSync } from 'node:fs';
import { type ProcStat, parseStat } from '../isolation/procfs.ts';

// USER_HZ, the unit of utime/stime in /proc/<pid>/stat, is 100 on every Linux ABI.
const TICKS_PER_SECOND = 100;

interface Previous {
  /** /proc/<pid>/stat, kept open while the pid is sampled: re-read at offset 0 each sample. */
  fd: number;
  ticks: number;
  at: number;
}

/** /proc/<pid>/stat is one line of well under 1 KiB (`comm` is at most 16 bytes). */
const buffer = Buffer.alloc(1024);

/**
 * CPU % and RSS of processes straight from /proc/<pid>/stat: one small synchronous read per process and
 * sample (no thread-pool round trips, no child spawned). The file is opened once per pid and re-read
 * with pread (a read costs a few µs, an open-read-close several times that); an fd of a process that
 * exited reads as an error, never as another process that got its pid. CPU % is over the time since the
 * previous reading of that pid (0 for the first).
 */
export class ProcStatReader {
  readonly #previous = new Map<number, Previous>();

  read(pid: number): { cpuPercent: number; memoryBytes: number } | undefined {
    let before = this.#previous.get(pid);
    let stat: ProcStat;
    try {
      const fd = before?.fd ?? openSync(`/proc/${pid}/stat`, 'r');
      before ??= { fd, ticks: Number.NaN, at: 0 };
      this.#previous.set(pid, before);
      stat = parseStat(buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0)));
    } catch {
      this.#forget(pid);
      return undefined;
    }
    const ticks = stat.cpuTicks;
    const at = performance.now();
    const elapsedSeconds = Number.isNaN(before.ticks) ? 0 : (at - before.at) / 1000;
    const cpuPercent =
      elapsedSeconds > 0 ? ((ticks - before.ticks) / TICKS_PER_SECOND / elapsedSeconds) * 100 : 0;
    before.ticks = ticks;
    before.at = at;
    return { cpuPercent, memoryBytes: stat.rssBytes };
  }

  /** Forgets pids that are no longer sampled (and closes their files). */
  retain(pids: ReadonlySet<number>): void {
    for (const pid of [...this.#previous.keys()]) if (!pids.has(pid)) this.#forget(pid);
  }

  clear(): void {
    for (const pid of [...this.#previous.keys()]) this.#forget(pid);
  }

  #forget(pid: number): void {
    const previous = this.#previous.get(pid);
    if (previous === undefined) return;
    this.#previous.delete(pid);
    try {
      closeSync(previous.fd);
    } catch {
      // Closed already.
    }
  }
}
