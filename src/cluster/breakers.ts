import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Emit } from '../events.ts';
import type { BreakerState } from '../types.ts';
import type { WorkerRecord } from '../worker-record.ts';
import type { ClusterKeys } from './keys.ts';
import { evalScript, LuaScript } from './lua.ts';

/** A worker's breaker and enabled flag as Redis holds them. */
export interface BreakerSnapshot {
  state: BreakerState;
  failures: number;
  /** Epoch ms (Redis's clock) when it opened. */
  openedAt: number | undefined;
  /** Not disabled by hand (`disableWorker`) on some host. */
  enabled: boolean;
}

export interface BreakersContext {
  redis: Redis;
  keys: ClusterKeys;
  log: Logger;
  emit: Emit;
  hostId: string;
  lockMs: number;
  /** Its runs may start again (half-open, closed, enabled): look again. */
  wake(worker: WorkerRecord): void;
}

/**
 * The breaker and enable/disable of each worker, cluster-wide (README: "Running on several machines").
 * Redis counts the consecutive failed runs of every host; the host that ends a run records it with one
 * script, which opens the breaker at `maxConsecutiveFailures` (at Redis's time). Every host applies
 * what Redis holds to its own worker record at each mirror refresh (within 1 s), so a run() refused
 * there is refused everywhere, and no host takes a run of an open worker. After the cooldown (counted
 * by Redis's clock from the opening) one host moves it to half-open; exactly one trial runs, on the host
 * that wins a `SET NX PX` lease; its outcome closes or re-opens the breaker for all.
 */
export class ClusterBreakers {
  readonly #ctx: BreakersContext;
  /** Workers whose trial lease this host holds. */
  readonly #trials = new Set<WorkerRecord>();
  /**
   * Enable/disable writes of this host not yet landed, per worker. What Redis said of such a worker in
   * the meantime (a refresh or a run's end read before the write) is older than what this host already
   * holds: applying it would flip the worker back for a refresh and tell `worker:enabled` twice.
   */
  readonly #toggling = new Map<WorkerRecord, number>();

  constructor(context: BreakersContext) {
    this.#ctx = context;
  }

  /**
   * A run of `worker` ended here (not aborted): counted in Redis, and what Redis decided applied here.
   * A success is also marked for the workers that depend on this one (dependencies.ts compares the
   * marks): one script call for both, as every run's end needs both.
   */
  async record(worker: WorkerRecord, ok: boolean, isTrial: boolean): Promise<void> {
    const { redis, keys, hostId } = this.#ctx;
    const result = (await evalScript(
      redis,
      RECORD,
      4,
      keys.breaker(worker.name),
      keys.trial(worker.name),
      keys.sequence,
      keys.marks(worker.name),
      ok ? '1' : '0',
      isTrial ? '1' : '0',
      String(worker.options.maxConsecutiveFailures),
      hostId,
    )) as string[];
    if (isTrial) this.#trials.delete(worker);
    this.apply(worker, parse(result));
  }

  /** `enableWorker` / `disableWorker` on this host: for every host. Enabling closes the breaker. */
  async setEnabled(worker: WorkerRecord, enabled: boolean): Promise<void> {
    const key = this.#ctx.keys.breaker(worker.name);
    this.#toggling.set(worker, (this.#toggling.get(worker) ?? 0) + 1);
    try {
      if (enabled) {
        await this.#ctx.redis.multi().hset(key, 'm', '1', 's', 'closed', 'f', '0').hdel(key, 'o').exec();
        await this.#ctx.redis.del(this.#ctx.keys.trial(worker.name));
      } else {
        await this.#ctx.redis.hset(key, 'm', '0');
      }
    } finally {
      const left = (this.#toggling.get(worker) ?? 1) - 1;
      if (left === 0) this.#toggling.delete(worker);
      else this.#toggling.set(worker, left);
    }
  }

  /** Reads every worker's breaker, moves those whose cooldown is over to half-open, applies them here. */
  async refresh(workers: WorkerRecord[]): Promise<void> {
    if (workers.length === 0) return;
    const { redis, keys } = this.#ctx;
    const read = redis.multi();
    for (const worker of workers) read.hgetall(keys.breaker(worker.name));
    read.time();
    const results = (await read.exec()) ?? [];
    const time = results[workers.length]?.[1] as [string, string];
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[i] as WorkerRecord;
      const snapshot = fromHash((results[i]?.[1] ?? {}) as Record<string, string>);
      const cooldownMs = worker.breaker.cooldownMs;
      if (
        snapshot.state === 'open' &&
        cooldownMs !== null &&
        snapshot.openedAt !== undefined &&
        now >= snapshot.openedAt + cooldownMs
      ) {
        const moved = await evalScript(
          redis,
          HALF_OPEN,
          1,
          keys.breaker(worker.name),
          String(snapshot.openedAt),
        );
        if (Number(moved) === 1) snapshot.state = 'half-open';
      }
      this.apply(worker, snapshot);
    }
  }

  /** Half-open: whether this host may take the one trial run (it holds, or now wins, the lease). */
  async mayTry(worker: WorkerRecord): Promise<boolean> {
    if (this.#trials.has(worker)) return true;
    const { redis, keys, hostId, lockMs } = this.#ctx;
    const won = await redis.set(keys.trial(worker.name), hostId, 'PX', lockMs, 'NX');
    if (won === 'OK') this.#trials.add(worker);
    return won === 'OK';
  }

  /** Keeps the trial leases this host holds while their trial runs (called with the lock renewal). */
  renew(): void {
    const { redis, keys, lockMs } = this.#ctx;
    for (const worker of this.#trials) {
      redis.pexpire(keys.trial(worker.name), lockMs).catch(() => undefined);
    }
  }

  /** The trial did not run here after all (handed back at stop): another host may take it. */
  async release(worker: WorkerRecord): Promise<void> {
    if (!this.#trials.delete(worker)) return;
    await evalScript(this.#ctx.redis, RELEASE, 1, this.#ctx.keys.trial(worker.name), this.#ctx.hostId);
  }

  /** Makes this host's record of `worker` what Redis holds; tells of openings and closings. */
  apply(worker: WorkerRecord, snapshot: BreakerSnapshot): void {
    // Read before this host's enable/disable landed: the next read after it tells what Redis holds.
    if (this.#toggling.has(worker)) return;
    const breaker = worker.breaker;
    const wasEnabled = worker.enabled;
    worker.manuallyEnabled = snapshot.enabled;
    const was = breaker.state;
    if (was === snapshot.state) {
      if (was === 'closed' && breaker.consecutiveFailures !== snapshot.failures) {
        breaker.restore('closed', snapshot.failures);
      }
    } else if (snapshot.state === 'half-open') {
      breaker.restore('open', snapshot.failures);
      breaker.halfOpen();
      this.#ctx.log.info(
        { worker: worker.name },
        'breaker half-open: the next run in the cluster is the trial',
      );
    } else {
      breaker.restore(snapshot.state, snapshot.failures);
      if (snapshot.state === 'open') {
        this.#ctx.log.warn(
          { worker: worker.name, consecutiveFailures: snapshot.failures },
          'circuit breaker opened: worker disabled',
        );
        this.#ctx.emit('worker:disabled', { name: worker.name, consecutiveFailures: snapshot.failures });
      } else {
        this.#ctx.emit('worker:enabled', { name: worker.name });
      }
    }
    if (!wasEnabled && worker.enabled && was === snapshot.state) {
      // Enabled by `enableWorker()` on another host: told here too, as a closing breaker is.
      this.#ctx.emit('worker:enabled', { name: worker.name });
    }
    if (worker.enabled && (!wasEnabled || was !== snapshot.state)) this.#ctx.wake(worker);
  }
}

function fromHash(hash: Record<string, string>): BreakerSnapshot {
  const state = (hash.s ?? 'closed') as BreakerState;
  return {
    state,
    failures: Number(hash.f ?? 0),
    openedAt: hash.o === undefined ? undefined : Number(hash.o),
    enabled: hash.m !== '0',
  };
}

function parse(result: string[]): BreakerSnapshot {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < result.length; i += 2) hash[result[i] as string] = result[i + 1] as string;
  return fromHash(hash);
}

/**
 * One run's end. KEYS: breaker hash, trial lease, the cluster's sequence, the worker's marks. ARGV: ok
 * ('1'/'0'), trial ('1'/'0'), the threshold, host id. A success takes the next sequence number as the
 * worker's `success` mark (dependencies.ts). Returns the breaker hash as a flat list.
 */
const RECORD = new LuaScript(`
local s = redis.call('HGET', KEYS[1], 's') or 'closed'
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local now = redis.call('TIME')
local ms = string.format('%.0f', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[4], 'success', redis.call('INCR', KEYS[3]))
  if s == 'closed' then
    redis.call('HSET', KEYS[1], 'f', 0)
  elseif ARGV[2] == '1' then
    redis.call('HSET', KEYS[1], 's', 'closed', 'f', 0)
    redis.call('HDEL', KEYS[1], 'o')
  end
else
  if s == 'closed' then
    f = f + 1
    redis.call('HSET', KEYS[1], 'f', f)
    if f >= tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], 's', 'open', 'o', ms) end
  elseif ARGV[2] == '1' then
    redis.call('HSET', KEYS[1], 's', 'open', 'o', ms, 'f', f + 1)
  end
end
if ARGV[2] == '1' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return redis.call('HGETALL', KEYS[1])
`);

/** Open → half-open, if it is still the opening of ARGV[1] (another host may have done it). */
const HALF_OPEN = new LuaScript(`
if redis.call('HGET', KEYS[1], 's') == 'open' and redis.call('HGET', KEYS[1], 'o') == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', 'half-open')
  return 1
end
return 0
`);

/** Deletes a lease only if this host holds it. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
