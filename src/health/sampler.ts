import pidusage from 'pidusage';
import type { Probe } from '../isolation/sandbox.ts';

export interface Reading {
  cpuPercent: number;
  memoryBytes: number;
}

/**
 * Reads CPU and memory of sandboxes: threads from event-loop utilisation (×100) and the heap use they
 * report; processes with pidusage (CPU % and RSS). Keeps track of its own pidusage calls so the
 * orchestrator can wait for them (pidusage's first call spawns `getconf`) before it says no child is left.
 */
export class Sampler {
  #pending: Promise<unknown> = Promise.resolve();

  /** Reads every probe; a probe that cannot be read (exited) is left out of the result. */
  read(probes: readonly Probe[]): Promise<Map<Probe, Reading>> {
    const readings = new Map<Probe, Reading>();
    const reads: Promise<void>[] = [];
    for (const probe of probes) {
      if (probe.kind === 'thread') {
        const utilization = probe.utilization();
        if (utilization !== undefined) {
          readings.set(probe, { cpuPercent: utilization * 100, memoryBytes: probe.heapUsed ?? 0 });
        }
      } else if (probe.pid !== undefined) {
        const pid = probe.pid;
        reads.push(
          pidusage(pid).then(
            (stat) => {
              readings.set(probe, { cpuPercent: stat.cpu, memoryBytes: stat.memory });
            },
            () => undefined,
          ),
        );
      }
    }
    const done = Promise.all(reads).then(() => readings);
    this.#pending = done;
    return done;
  }

  /** Waits for reads in progress and drops pidusage's per-pid history (and its timers). */
  async close(): Promise<void> {
    await this.#pending.catch(() => undefined);
    pidusage.clear();
  }
}
