import type { Redis } from 'ioredis';
import type { WorkerRecord } from '../worker-record.ts';
import type { ClusterKeys } from './keys.ts';
import { evalScript, LuaScript } from './lua.ts';

/**
 * `dependsOn` across hosts (README: "Running on several machines"). Redis keeps, per worker, the
 * cluster's sequence number of its last run start and of its last success (`marks:<worker>`), like the
 * sequence numbers a single host compares (docs/architecture.md: scheduler/gates.ts):
 *
 * - a run starts with `start`: a scheduled, continuous or pipeline run only if every dependency has
 *   succeeded since the worker's last run started (else it is parked until one does);
 * - a success is recorded with the run's breaker count (breakers.ts, `record`), in the same script;
 * - `pipelineDue` says, once, that a triggered worker's dependencies have all succeeded since its last
 *   run: the host that learns it first queues the pipeline run.
 *
 * That dependencies are not running is the exclusion leases' part (leases.ts).
 */
export class ClusterDependencies {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;

  constructor(redis: Redis, keys: ClusterKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** The run starts now, if `fresh` needs nothing or every dependency is fresh: false if not. */
  async start(worker: WorkerRecord, fresh: boolean): Promise<boolean> {
    const keys = [this.#keys.sequence, this.#marks(worker), ...worker.deps.map((d) => this.#marks(d))];
    const ok = await evalScript(this.#redis, START, keys.length, ...keys, fresh ? '1' : '0');
    return Number(ok) === 1;
  }

  /** Every dependency has succeeded since the worker's last run started (read only). */
  async fresh(worker: WorkerRecord): Promise<boolean> {
    const read = this.#redis.multi().hget(this.#marks(worker), 'start');
    for (const dep of worker.deps) read.hget(this.#marks(dep), 'success');
    const results = (await read.exec()) ?? [];
    const start = Number(results[0]?.[1] ?? 0);
    return results.slice(1).every((r) => Number(r?.[1] ?? 0) > start);
  }

  /** True once per set of dependency successes that makes the pipeline of `worker` due. */
  async pipelineDue(worker: WorkerRecord): Promise<boolean> {
    const keys = [this.#marks(worker), ...worker.deps.map((d) => this.#marks(d))];
    return Number(await evalScript(this.#redis, PIPELINE_DUE, keys.length, ...keys)) === 1;
  }

  /** A run waiting for its dependencies: remembered, to be woken by their next success. */
  async park(worker: WorkerRecord, jobId: string): Promise<void> {
    await this.#redis.sadd(this.#keys.parked(worker.name), jobId);
  }

  /** The parked runs of `worker`, taken out of the set. */
  async unpark(worker: WorkerRecord): Promise<string[]> {
    const key = this.#keys.parked(worker.name);
    const result = await this.#redis.multi().smembers(key).del(key).exec();
    return (result?.[0]?.[1] as string[] | undefined) ?? [];
  }

  #marks(worker: WorkerRecord): string {
    return this.#keys.marks(worker.name);
  }
}

/** KEYS: sequence, the worker's marks, its dependencies' marks. ARGV[1]: '1' to require freshness. */
const START = new LuaScript(`
local start = tonumber(redis.call('HGET', KEYS[2], 'start') or '0')
if ARGV[1] == '1' then
  for i = 3, #KEYS do
    if tonumber(redis.call('HGET', KEYS[i], 'success') or '0') <= start then return 0 end
  end
end
redis.call('HSET', KEYS[2], 'start', redis.call('INCR', KEYS[1]))
return 1
`);

/**
 * KEYS: the worker's marks, its dependencies' marks. Due when every dependency succeeded since the
 * worker's last start, and not yet claimed for these successes ('piped': the newest success claimed).
 */
const PIPELINE_DUE = new LuaScript(`
local start = tonumber(redis.call('HGET', KEYS[1], 'start') or '0')
local newest = 0
for i = 2, #KEYS do
  local success = tonumber(redis.call('HGET', KEYS[i], 'success') or '0')
  if success <= start then return 0 end
  if success > newest then newest = success end
end
if tonumber(redis.call('HGET', KEYS[1], 'piped') or '0') >= newest then return 0 end
redis.call('HSET', KEYS[1], 'piped', newest)
return 1
`);
