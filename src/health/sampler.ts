import pidusage from 'pidusage';
import type { Probe } from '../isolation/sandbox.ts';
import { hasProcFs, ProcStatReader } from './proc-stat.ts';

export interface Reading {
  cpuPercent: number;
  memoryBytes: number;
}

/**
 * Reads CPU and memory of sandboxes: threads from event-loop utilisation (×100) and the heap use they
 * report; processes from /proc/<pid>/stat on Linux, with pidusage elsewhere (CPU % and RSS). Keeps track
 * of its own pidusage calls so the orchestrator can wait for them (pidusage's first call spawns
 * `getconf`) before it says no child is left.
 */
export class Sampler {
  #pending: Promise<unknown> = Promise.resolve();
  readonly #proc = hasProcFs ? new ProcStatReader() : undefined;
  #usedPidusage = false;

  /** Reads every probe; a probe that cannot be read (exited) is left out of the result. */
  read(probes: readonly Probe[]): Promise<Map<Probe, Reading>> {
    const readings = new Map<Probe, Reading>();
    const reads: Promise<void>[] = [];
    const pids = new Set<number>();
    for (const probe of probes) {
      if (probe.kind === 'thread') {
        const utilization = probe.utilization();
        if (utilization !== undefined) {
          readings.set(probe, { cpuPercent: utilization * 100, memoryBytes: probe.heapUsed ?? 0 });
        }
        continue;
      }
      const pid = probe.pid;
      if (pid === undefined) continue;
      pids.add(pid);
      if (this.#proc !== undefined) {
        const reading = this.#proc.read(pid);
        if (reading !== undefined) readings.set(probe, reading);
        continue;
      }
      this.#usedPidusage = true;
      reads.push(
        pidusage(pid).then(
          (stat) => {
            readings.set(probe, { cpuPercent: stat.cpu, memoryBytes: stat.memory });
          },
          () => undefined,
        ),
      );
    }
    this.#proc?.retain(pids);
    if (reads.length === 0) return Promise.resolve(readings);
    const done = Promise.all(reads).then(() => readings);
    this.#pending = done;
    return done;
  }

  /** Waits for reads in progress and drops the per-pid history (pidusage's, with its timers). */
  async close(): Promise<void> {
    await this.#pending.catch(() => undefined);
    this.#proc?.clear();
    if (this.#usedPidusage) pidusage.clear();
  }
}
