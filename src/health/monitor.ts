import type { Attempt } from '../attempt.ts';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Probe } from '../isolation/sandbox.ts';
import type { WorkerRecord } from '../worker-record.ts';
import { Sampler } from './sampler.ts';

export interface HealthMonitorOptions {
  /** Record CPU/memory figures in each worker's `resources`. */
  enabled: boolean;
  sampleMs: number;
  clock: Clock;
  /** The attempts in flight and their workers. */
  active(): Iterable<[Attempt, WorkerRecord]>;
}

/**
 * Samples the sandboxes of attempts in flight every `sampleMs` (only while there are some), records the
 * figures per worker (summed over its attempts), and enforces `memoryLimitMb` for processes by the
 * memory of their whole process tree —
 * also with health checks off, since the limit is a promise made to the user.
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #sampler = new Sampler();
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
  }

  /** An isolated attempt started: make sure a sample is coming. */
  wake(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.#options.sampleMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Stops sampling and waits for reads in progress (pidusage may have spawned helpers). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sampler.close();
  }

  /** Sampling may resume after close() (a restarted orchestrator). */
  reopen(): void {
    this.#closed = false;
  }

  async #tick(): Promise<void> {
    const watched = new Map<Probe, [Attempt, WorkerRecord]>();
    for (const [attempt, worker] of this.#options.active()) {
      const probe = attempt.sandbox.probe;
      if (probe === undefined) continue;
      if (this.#options.enabled || (probe.kind === 'process' && worker.options.memoryLimitMb !== undefined)) {
        watched.set(probe, [attempt, worker]);
      }
    }
    if (watched.size === 0) {
      // Sampling pauses until the next isolated attempt: the files it keeps open are closed meanwhile.
      this.#sampler.forget();
      return;
    }
    const readings = await this.#sampler.read([...watched.keys()]);
    const sums = new Map<WorkerRecord, { cpuPercent: number; memoryBytes: number; tree?: number }>();
    for (const [probe, reading] of readings) {
      const [attempt, worker] = watched.get(probe) as [Attempt, WorkerRecord];
      if (attempt.settled) continue;
      const limitMb = worker.options.memoryLimitMb;
      // The whole process tree counts: a worker's grandchild holding the memory is still the worker's.
      const used = reading.treeMemoryBytes ?? reading.memoryBytes;
      if (probe.kind === 'process' && limitMb !== undefined && used > limitMb * 1048576) {
        const what = reading.treeMemoryBytes === undefined ? 'RSS' : 'memory of the process tree';
        const mib = Math.round(used / 1048576);
        attempt.cancel('memory', new Error(`${what} ${mib} MiB passed memoryLimitMb ${limitMb}`));
      }
      const sum = sums.get(worker) ?? { cpuPercent: 0, memoryBytes: 0 };
      sum.cpuPercent += reading.cpuPercent;
      sum.memoryBytes += reading.memoryBytes;
      if (reading.treeMemoryBytes !== undefined) sum.tree = (sum.tree ?? 0) + reading.treeMemoryBytes;
      sums.set(worker, sum);
    }
    if (this.#options.enabled) {
      const sampledAt = new Date(this.#options.clock.now()).toISOString();
      for (const [worker, sum] of sums) {
        worker.resources = {
          cpuPercent: Math.round(sum.cpuPercent * 10) / 10,
          memoryBytes: sum.memoryBytes,
          ...(sum.tree === undefined ? {} : { treeMemoryBytes: sum.tree }),
          sampledAt,
        };
      }
    }
    // Keep sampling while anything isolated is in flight.
    for (const [attempt] of this.#options.active()) {
      if (attempt.sandbox.probe !== undefined) {
        this.wake();
        break;
      }
    }
  }
}
