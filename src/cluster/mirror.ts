import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Run } from '../run.ts';
import type { ClusterStatus, RunTotals } from '../types.ts';
import type { WorkerRecord } from '../worker-record.ts';
import type { ClusterBreakers } from './breakers.ts';
import type { HostBeat, HostRegistry } from './host-registry.ts';
import type { ClusterKeys } from './keys.ts';
import type { Lane } from './lane.ts';
import type { ResolvedClusterOptions } from './options.ts';
import type { ClusterSchedules } from './schedules.ts';

export interface MirrorContext {
  redis: Redis;
  keys: ClusterKeys;
  registry: HostRegistry;
  schedules: ClusterSchedules;
  breakers: ClusterBreakers;
  options: ResolvedClusterOptions;
  log: Logger;
  lanes(): Iterable<Lane>;
  workers(): Iterable<WorkerRecord>;
  inFlight(): ReadonlySet<Run>;
  /** This host has `/events` clients. */
  watching(): boolean;
  /** The cluster-wide options of `worker`'s latest registration, as recorded in Redis (JSON). */
  adopt(worker: WorkerRecord, latest: string | null): void;
}

const TOTAL_FIELDS = ['runs', 'succeeded', 'failed', 'retries', 'timeouts', 'crashes'] as const;

/** How often the mirror is refreshed: `getStatus()` is at most this stale (and at most 1 s). */
const REFRESH_MS = 500;

/**
 * This host's view of the cluster, so that `getStatus()` answers synchronously: the live hosts, each
 * worker's queued runs and runs in flight cluster-wide, and its totals summed over every host. Each
 * refresh also sends this host's heartbeat and adds what its totals gained since the last one.
 */
export class ClusterMirror {
  readonly #ctx: MirrorContext;
  #hosts: HostBeat[] = [];
  #othersWatching = false;
  readonly #totals = new Map<string, RunTotals>();
  #due = new Map<WorkerRecord, number>();
  /** Local totals already added to Redis. */
  readonly #flushed = new Map<WorkerRecord, RunTotals>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(context: MirrorContext) {
    this.#ctx = context;
  }

  /** What this host announces. */
  beat(): HostBeat {
    const { options } = this.#ctx;
    const runningBy: Record<string, number> = {};
    for (const run of this.#ctx.inFlight()) {
      runningBy[run.worker.name] = (runningBy[run.worker.name] ?? 0) + 1;
    }
    return {
      id: options.hostId,
      execute: options.execute,
      workers: options.execute ? [...this.#ctx.workers()].map((w) => w.name) : [],
      running: this.#ctx.inFlight().size,
      lastSeenAt: new Date().toISOString(),
      runningBy,
      watching: this.#ctx.watching(),
    };
  }

  /** Another host has `/events` clients: this host's events are relayed to it. */
  othersWatching(): boolean {
    // Asked for every event this host emits: answered from what the last refresh found.
    return this.#othersWatching;
  }

  start(): void {
    const every = Math.min(REFRESH_MS, Math.floor(this.#ctx.options.lockMs / 3));
    this.#timer = setInterval(() => {
      this.#refreshing ??= this.refresh()
        .catch((error: unknown) => this.#ctx.log.debug({ err: error }, 'cluster: mirror refresh failed'))
        .finally(() => {
          this.#refreshing = undefined;
        });
    }, every);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
    await this.#flush().catch(() => undefined);
  }

  async refresh(): Promise<void> {
    const { redis, keys, registry } = this.#ctx;
    await this.#flush();
    await registry.beat(this.beat());
    const hosts = await registry.list();
    const lanes = [...this.#ctx.lanes()];
    const read = redis.multi();
    for (const lane of lanes) {
      const name = lane.worker.name;
      read.llen(keys.bull(name, 'wait'));
      read.zcard(keys.bull(name, 'prioritized'));
      read.hgetall(keys.totals(name));
      read.get(keys.options(name));
    }
    const results = (await read.exec()) ?? [];
    lanes.forEach((lane, i) => {
      const wait = Number(results[i * 4]?.[1] ?? 0);
      const prioritized = Number(results[i * 4 + 1]?.[1] ?? 0);
      const hash = (results[i * 4 + 2]?.[1] ?? {}) as Record<string, string>;
      this.#ctx.adopt(lane.worker, (results[i * 4 + 3]?.[1] ?? null) as string | null);
      lane.waiting = wait + prioritized;
      lane.sent = 0;
      const totals = emptyTotals();
      for (const field of TOTAL_FIELDS) totals[field] = Number(hash[field] ?? 0);
      this.#totals.set(lane.worker.name, totals);
    });
    this.#hosts = hosts;
    const self = this.#ctx.options.hostId;
    this.#othersWatching = hosts.some((host) => host.watching && host.id !== self);
    this.#due = await this.#ctx.schedules.dueAt(lanes.map((lane) => lane.worker));
    await this.#ctx.breakers.refresh(lanes.map((lane) => lane.worker));
  }

  /** When the worker's next scheduled run is due, as Redis says (undefined: not scheduled). */
  dueAt(worker: WorkerRecord): number | undefined {
    return this.#due.get(worker);
  }

  /** Runs of `worker` in flight on every host (this host's own figure is live). */
  runningCount(worker: WorkerRecord): number {
    let count = worker.inFlight;
    for (const host of this.#hosts) {
      if (host.id !== this.#ctx.options.hostId) count += host.runningBy[worker.name] ?? 0;
    }
    return count;
  }

  /** `worker`'s totals over every host: Redis's sums plus what this host has not added yet. */
  totals(worker: WorkerRecord): RunTotals {
    const shared = this.#totals.get(worker.name) ?? emptyTotals();
    const flushed = this.#flushed.get(worker) ?? emptyTotals();
    const out = emptyTotals();
    for (const field of TOTAL_FIELDS) out[field] = shared[field] + worker.totals[field] - flushed[field];
    return out;
  }

  cluster(): ClusterStatus {
    const own = this.beat();
    const hosts = this.#hosts.filter((host) => host.id !== own.id);
    hosts.push(own);
    hosts.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      name: this.#ctx.options.name,
      self: own.id,
      redis: this.#ctx.redis.status === 'ready' ? 'ready' : 'unreachable',
      hosts: hosts.map(({ id, execute, workers, running, lastSeenAt }) => ({
        id,
        execute,
        workers: [...workers],
        running,
        lastSeenAt,
      })),
    };
  }

  /** Adds to Redis what each worker's local totals gained since the last flush. */
  async #flush(): Promise<void> {
    const { redis, keys } = this.#ctx;
    const write = redis.multi();
    const next = new Map<WorkerRecord, RunTotals>();
    let changes = 0;
    for (const worker of this.#ctx.workers()) {
      const flushed = this.#flushed.get(worker) ?? emptyTotals();
      for (const field of TOTAL_FIELDS) {
        const delta = worker.totals[field] - flushed[field];
        if (delta === 0) continue;
        write.hincrby(keys.totals(worker.name), field, delta);
        changes++;
      }
      next.set(worker, { ...worker.totals });
    }
    // Not `write.length`: the MULTI counts as one already. (Nothing is sent before exec().)
    if (changes === 0) return;
    await write.exec();
    for (const [worker, totals] of next) this.#flushed.set(worker, totals);
  }
}

function emptyTotals(): RunTotals {
  return { runs: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0, crashes: 0 };
}
