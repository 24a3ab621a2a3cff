/**
 * The only module that loads BullMQ and ioredis. It is imported with `import()` when a cluster starts,
 * so an orchestrator without `cluster` never loads either (README: "Running on several machines").
 */

import { inspect } from 'node:util';
import { Job, Queue, Worker } from 'bullmq';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { OrchestratorError } from '../errors.ts';

export { Job, Queue, Redis, Worker };

/** BullMQ's scripts need at least this Redis (README: Redis requirements). */
const MIN_REDIS = [6, 2];

/**
 * Opens the cluster's Redis connection. Probes first with a connection that never retries, so that an
 * unreachable Redis fails `start()` at once with ERR_STORE and leaves nothing reconnecting behind;
 * then opens the connection the cluster keeps, which reconnects on its own after a loss.
 */
export async function connectRedis(redis: string | Record<string, unknown>): Promise<Redis> {
  const where = typeof redis === 'string' ? redactUrl(redis) : describeOptions(redis);
  const probe = create(
    redis,
    { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 5000 },
    false,
  );
  // The connect() rejection only says the connection closed; the error event says why.
  let why: Error | undefined;
  probe.on('error', (error: Error) => {
    why ??= error;
  });
  try {
    await probe.connect();
    const info = await probe.info('server');
    const version = /redis_version:(\d+)\.(\d+)/.exec(info);
    const major = Number(version?.[1] ?? 0);
    const minor = Number(version?.[2] ?? 0);
    if (major < (MIN_REDIS[0] as number) || (major === MIN_REDIS[0] && minor < (MIN_REDIS[1] as number))) {
      throw new Error(
        `Redis ${major}.${minor} is too old: cluster mode needs ${MIN_REDIS.join('.')} or later`,
      );
    }
  } catch (error) {
    probe.disconnect();
    throw new OrchestratorError(
      'ERR_STORE',
      `cluster: cannot use Redis at ${where}: ${(why ?? error) instanceof Error ? (why ?? (error as Error)).message : String(error)}`,
      { cause: why ?? error },
    );
  }
  probe.disconnect();
  // maxRetriesPerRequest null: BullMQ's blocking commands and ours wait out a reconnection.
  const client = create(redis, { lazyConnect: true, maxRetriesPerRequest: null }, true);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new OrchestratorError('ERR_STORE', `cluster: cannot use Redis at ${where}: ${String(error)}`, {
      cause: error,
    });
  }
  return client;
}

/**
 * A connection: to one Redis (a URL or ioredis options) or to a Redis Cluster (`{ nodes, ...options }`).
 * A Cluster is handed on as a `Redis`: it answers every command corral and BullMQ send (each names keys
 * of one hash slot, `{name}`), and BullMQ recognises it as a cluster at run time (`isCluster`).
 */
function create(redis: string | Record<string, unknown>, extra: RedisOptions, reconnect: boolean): Redis {
  if (typeof redis === 'object' && Array.isArray(redis.nodes)) {
    const { nodes, redisOptions, ...options } = redis as { nodes: unknown[]; redisOptions?: object };
    const { retryStrategy: _r, lazyConnect, connectTimeout, maxRetriesPerRequest } = extra;
    const cluster = new Cluster(
      nodes as never,
      {
        ...(options as ClusterOptions),
        lazyConnect,
        enableOfflineQueue: reconnect,
        ...(reconnect ? {} : { clusterRetryStrategy: () => null }),
        redisOptions: { ...redisOptions, connectTimeout, maxRetriesPerRequest } as never,
      } as never,
    );
    return cluster as unknown as Redis;
  }
  const options = reconnect ? extra : { ...extra, enableOfflineQueue: false };
  // The cast: ioredis's option types do not allow `undefined` under exactOptionalPropertyTypes.
  return typeof redis === 'string'
    ? new Redis(redis, options as never)
    : new Redis({ ...(redis as RedisOptions), ...options } as never);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function describeOptions(options: Record<string, unknown>): string {
  if (Array.isArray(options.nodes))
    return `Redis Cluster nodes ${inspect(options.nodes, { breakLength: Infinity })}`;
  const host = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const port = typeof options.port === 'number' ? options.port : 6379;
  return Array.isArray(options.sentinels) ? `sentinels of "${String(options.name)}"` : `${host}:${port}`;
}
