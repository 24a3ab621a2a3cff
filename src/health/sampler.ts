import pidusage from 'pidusage';
import { cgroupMemory } from '../isolation/cgroup.ts';
import {
  childrenByParent,
  descendantPids,
  descendantsOf,
  hasProcFs,
  listProcesses,
  type ProcEntry,
  readStat,
} from '../isolation/procfs.ts';
import type { Probe, ProcessProbe } from '../isolation/sandbox.ts';
import { ProcStatReader } from './proc-stat.ts';

export interface Reading {
  cpuPercent: number;
  memoryBytes: number;
  /** Process sandboxes: memory of the child and everything it started (undefined where unknown). */
  treeMemoryBytes?: number;
}

/**
 * Reads CPU and memory of sandboxes: threads from event-loop utilisation (×100) and the heap use they
 * report; processes from /proc/<pid>/stat on Linux, with pidusage elsewhere (CPU % and RSS), plus the
 * memory of their whole process tree (their cgroup's, else the RSS of the child and its descendants).
 * Keeps track of its own pidusage calls so the orchestrator can wait for them (pidusage's first call
 * spawns `getconf`) before it says no child is left.
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
    const tree = new TreeMemory();
    for (const probe of probes) {
      if (probe.kind === 'thread') {
        const utilization = probe.utilization();
        // No figure before the thread has reported its heap: a thread still starting would be recorded
        // with 0 bytes (README: getStatus(), resources).
        if (utilization !== undefined && probe.heapUsed !== undefined) {
          readings.set(probe, { cpuPercent: utilization * 100, memoryBytes: probe.heapUsed });
        }
        continue;
      }
      const pid = probe.pid;
      if (pid === undefined) continue;
      pids.add(pid);
      if (this.#proc !== undefined) {
        const reading = this.#proc.read(pid);
        if (reading === undefined) continue;
        const treeBytes = tree.of(probe, pid, reading.memoryBytes);
        readings.set(probe, treeBytes === undefined ? reading : { ...reading, treeMemoryBytes: treeBytes });
        continue;
      }
      this.#usedPidusage = true;
      reads.push(
        pidusage(pid).then(
          (stat) => {
            const reading: Reading = { cpuPercent: stat.cpu, memoryBytes: stat.memory };
            const treeBytes = tree.of(probe, pid);
            if (treeBytes !== undefined) reading.treeMemoryBytes = treeBytes;
            readings.set(probe, reading);
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

  /** Nothing to sample for now: drops the per-pid history of /proc (and the files it keeps open). */
  forget(): void {
    this.#proc?.clear();
  }

  /** Waits for reads in progress and drops the per-pid history (pidusage's, with its timers). */
  async close(): Promise<void> {
    await this.#pending.catch(() => undefined);
    this.#proc?.clear();
    if (this.#usedPidusage) pidusage.clear();
  }
}

/**
 * Memory of process trees for one sample: a sandbox's cgroup where it has one, else the RSS of its child
 * and the child's descendants (from the /proc `children` files; one walk of all /proc per sample, shared
 * by every sandbox, on a kernel without them).
 */
class TreeMemory {
  #children: Map<number, ProcEntry[]> | undefined;

  /** `rss`: the child's own RSS when it was read already this sample. */
  of(probe: ProcessProbe, pid: number, rss?: number): number | undefined {
    if (probe.cgroup !== undefined) {
      return cgroupMemory(probe.cgroup, rss === undefined ? undefined : { pid, rss });
    }
    if (!hasProcFs) return undefined;
    let members = descendantPids(pid);
    if (members === undefined) {
      this.#children ??= childrenByParent(listProcesses());
      members = descendantsOf([pid], this.#children).map((entry) => entry.pid);
    }
    const root = rss ?? readStat(pid)?.rssBytes;
    if (root === undefined) return undefined;
    let sum = root;
    for (const member of members) sum += readStat(member)?.rssBytes ?? 0;
    return sum;
  }
}
