import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Every script made, for {@link loadScripts}. */
const scripts: LuaScript[] = [];

/** A Lua script of corral's own (leases, the breaker, dependencies, schedules), sent by its SHA1. */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
    scripts.push(this);
  }
}

/**
 * Runs `script` with EVALSHA (a few dozen bytes a call instead of its whole text), and with EVAL when
 * Redis does not know it yet (NOSCRIPT: a new or restarted Redis). The EVALSHA is sent at once, in the
 * order of the calls: a caller may rely on Redis running it before a command it sends after it on the
 * same connection (what the scripts are loaded for at start, so that the fallback stays rare).
 */
export async function evalScript(
  redis: Redis,
  script: LuaScript,
  numKeys: number,
  ...args: (string | number)[]
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, numKeys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(script.source, numKeys, ...args);
  }
}

/** Loads every script into Redis, so that their first EVALSHA finds them (best effort: EVAL covers a miss). */
export async function loadScripts(redis: Redis): Promise<void> {
  await Promise.all(scripts.map((script) => redis.script('LOAD', script.source).catch(() => undefined)));
}
