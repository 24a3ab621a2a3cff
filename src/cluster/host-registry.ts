import type { Redis } from 'ioredis';
import { OrchestratorError } from '../errors.ts';
import type { ClusterHostStatus } from '../types.ts';
import type { ClusterKeys } from './keys.ts';

/** What a host announces with each heartbeat. */
export interface HostBeat extends ClusterHostStatus {
  /** Attempts in flight there, per worker. */
  runningBy: Record<string, number>;
  /** This host has `/events` clients: the others relay their events (event-feed.ts). */
  watching: boolean;
}

/**
 * The hosts of a cluster: each live host keeps a key that expires `lockMs` after its last heartbeat,
 * so a dead host leaves the list within `lockMs` and a graceful stop deletes it at once. The key is
 * claimed with NX at start: a second live host with the same id is refused.
 */
export class HostRegistry {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #id: string;
  readonly #lockMs: number;

  constructor(redis: Redis, keys: ClusterKeys, id: string, lockMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#id = id;
    this.#lockMs = lockMs;
  }

  async claim(beat: HostBeat): Promise<void> {
    const ok = await this.#redis.set(
      this.#keys.host(this.#id),
      JSON.stringify(beat),
      'PX',
      this.#lockMs,
      'NX',
    );
    if (ok !== 'OK') {
      throw new OrchestratorError(
        'ERR_STORE',
        `cluster: another live host already uses hostId "${this.#id}" (its heartbeat has not expired)`,
      );
    }
    await this.#redis.sadd(this.#keys.hosts, this.#id);
  }

  async beat(beat: HostBeat): Promise<void> {
    await this.#redis
      .multi()
      .set(this.#keys.host(this.#id), JSON.stringify(beat), 'PX', this.#lockMs)
      .sadd(this.#keys.hosts, this.#id)
      .exec();
  }

  async leave(): Promise<void> {
    await this.#redis.multi().del(this.#keys.host(this.#id)).srem(this.#keys.hosts, this.#id).exec();
  }

  /** Every live host; ids whose key expired are pruned from the set. */
  async list(): Promise<HostBeat[]> {
    const ids = await this.#redis.smembers(this.#keys.hosts);
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(...ids.map((id) => this.#keys.host(id)));
    const hosts: HostBeat[] = [];
    const gone: string[] = [];
    values.forEach((value, i) => {
      if (value === null) gone.push(ids[i] as string);
      else hosts.push(JSON.parse(value) as HostBeat);
    });
    if (gone.length > 0) await this.#redis.srem(this.#keys.hosts, ...gone);
    return hosts.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
