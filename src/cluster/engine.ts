/**
 * The only module that loads BullMQ and ioredis. It is imported with `import()` when a cluster starts,
 * so an orchestrator without `cluster` never loads either (README: "Running on several machines").
 */
import { Job, Queue, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
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
  const probe = create(redis, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 5000,
  });
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
  const client = create(redis, { lazyConnect: true, maxRetriesPerRequest: null });
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

function create(redis: string | Record<string, unknown>, extra: RedisOptions): Redis {
  // The cast: ioredis's option types do not allow `undefined` under exactOptionalPropertyTypes.
  return typeof redis === 'string'
    ? new Redis(redis, extra as never)
    : new Redis({ ...(redis as RedisOptions), ...extra } as never);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function describeOptions(options: Record<string, unknown>): string {
  const host = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const port = typeof options.port === 'number' ? options.port : 6379;
  return Array.isArray(options.sentinels) ? `sentinels of "${String(options.name)}"` : `${host}:${port}`;
}
