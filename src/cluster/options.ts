import { hostname } from 'node:os';
import { inspect } from 'node:util';
import { OrchestratorError } from '../errors.ts';
import type { ClusterOptions } from '../types.ts';

/** `cluster` after validation: every field given its value. */
export interface ResolvedClusterOptions {
  redis: string | Record<string, unknown>;
  name: string;
  hostId: string;
  execute: boolean;
  lockMs: number;
}

const KNOWN = new Set(['redis', 'name', 'hostId', 'execute', 'lockMs']);

function invalid(option: string, expected: string, value: unknown): OrchestratorError {
  return new OrchestratorError(
    'ERR_INVALID_OPTION',
    `orchestrator: cluster.${option} must be ${expected}, got ${inspect(value, { depth: 1, breakLength: Infinity })}`,
  );
}

/**
 * Validates `cluster` (README: "Running on several machines"). The name becomes the Redis hash tag of
 * every key, `{name}`, so it may not hold the characters that would break that tag or the key layout.
 */
export function resolveClusterOptions(options: unknown): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new OrchestratorError(
      'ERR_INVALID_OPTION',
      `orchestrator: cluster must be an object with at least { redis }, got ${inspect(options)}`,
    );
  }
  const opts = options as ClusterOptions;
  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key)) {
      throw invalid(
        key,
        'a known option (there is no such option)',
        (opts as unknown as Record<string, unknown>)[key],
      );
    }
  }
  const redis = opts.redis as unknown;
  const isUrl = typeof redis === 'string' && /^rediss?:\/\//.test(redis);
  const isOptions = typeof redis === 'object' && redis !== null && !Array.isArray(redis);
  if (!isUrl && !isOptions) {
    throw invalid(
      'redis',
      'a redis:// or rediss:// URL, an ioredis options object, or { nodes: [...] } for a Redis Cluster (required)',
      redis,
    );
  }
  const nodes = isOptions ? (redis as Record<string, unknown>).nodes : undefined;
  if (
    nodes !== undefined &&
    (!Array.isArray(nodes) ||
      nodes.length === 0 ||
      !nodes.every((n) => typeof n === 'string' || (typeof n === 'object' && n !== null)))
  ) {
    throw invalid(
      'redis.nodes',
      "a non-empty array of Redis Cluster nodes ({ host, port } or 'redis://host:port')",
      nodes,
    );
  }
  const name = opts.name ?? 'corral';
  if (typeof name !== 'string' || name === '' || /[{}:\s\0]/.test(name)) {
    throw invalid('name', "a non-empty string without '{', '}', ':' or spaces", name);
  }
  const hostId = opts.hostId ?? `${hostname()}:${process.pid}`;
  if (typeof hostId !== 'string' || hostId === '' || hostId.includes('\0')) {
    throw invalid('hostId', 'a non-empty string', hostId);
  }
  const execute = opts.execute ?? true;
  if (typeof execute !== 'boolean') throw invalid('execute', 'a boolean', execute);
  const lockMs = opts.lockMs ?? 30_000;
  if (typeof lockMs !== 'number' || !Number.isInteger(lockMs) || lockMs < 1000) {
    throw invalid('lockMs', 'an integer >= 1000', lockMs);
  }
  return { redis: redis as string | Record<string, unknown>, name, hostId, execute, lockMs };
}
