import type { Redis } from 'ioredis';
import type { WorkerRecord } from '../worker-record.ts';
import type { ClusterKeys } from './keys.ts';
import { evalScript, LuaScript } from './lua.ts';

/**
 * `blocks` across hosts, and "a dependency is not running" for `dependsOn` (README: "Running on
 * several machines"). Each worker with exclusive partners
 * has a sorted set of the runs that hold it, each entry expiring `lockMs` after its last renewal (so a
 * dead host's entries lapse). A host takes a run of such a worker only after one script has checked
 * that no partner holds a live entry and added its own: two partners never run at once, anywhere.
 */
export class ExclusionLeases {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #lockMs: number;

  constructor(redis: Redis, keys: ClusterKeys, lockMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#lockMs = lockMs;
  }

  /**
   * True if `member` now holds `worker`: none of `blockers` (its `blocks` partners and its dependencies)
   * runs anywhere.
   */
  async acquire(worker: WorkerRecord, member: string): Promise<boolean> {
    const keys = [worker, ...blockers(worker)].map((w) => this.#keys.exclusion(w.name));
    const won = await evalScript(this.#redis, ACQUIRE, keys.length, ...keys, member, String(this.#lockMs));
    return Number(won) === 1;
  }

  async release(worker: WorkerRecord, member: string): Promise<void> {
    await this.#redis.zrem(this.#keys.exclusion(worker.name), member);
  }

  /** Pushes the expiry of entries still held (called with the lock renewal). */
  renew(held: Iterable<[WorkerRecord, string]>): void {
    const write = this.#redis.multi();
    const expires = Date.now() + this.#lockMs;
    for (const [worker, member] of held) write.zadd(this.#keys.exclusion(worker.name), 'XX', expires, member);
    if (write.length > 0) write.exec().catch(() => undefined);
  }
}

/** Workers that must not run while `worker` starts: its `blocks` partners and its dependencies. */
export function blockers(worker: WorkerRecord): WorkerRecord[] {
  return worker.deps.length === 0 ? worker.exclusive : [...new Set([...worker.exclusive, ...worker.deps])];
}

/** Whether runs of `worker` take a lease: it has partners, dependencies, or dependents. */
export function needsLease(worker: WorkerRecord): boolean {
  return worker.exclusive.length > 0 || worker.deps.length > 0 || worker.dependents.length > 0;
}

/**
 * KEYS[1]: the worker's holders; KEYS[2..]: its partners'. ARGV: member, lockMs. Entries are scored
 * with their expiry (Redis's time); lapsed ones are dropped first.
 */
const ACQUIRE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) > 0 then return 0 end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
`);
