import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script of corral's own (leases, the breaker, dependencies, schedules), sent by its SHA1. */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/** Per connection, the scripts sent in full since it (re)connected: Redis knows them from then on. */
const sent = new WeakMap<Redis, Set<string>>();

function sentOn(redis: Redis): Set<string> {
  let scripts = sent.get(redis);
  if (scripts === undefined) {
    const created = new Set<string>();
    scripts = created;
    sent.set(redis, created);
    // A new connection may reach a Redis that restarted or failed over: its script cache is empty.
    redis.on('close', () => created.clear());
  }
  return scripts;
}

/**
 * Runs `script`: with EVAL (its whole text) the first time on a connection, then with EVALSHA (a few
 * dozen bytes). Either is sent at once, in the order of the calls, so a caller may rely on Redis running
 * it before a command it sends after it on the same connection — also right after a reconnection, when
 * an EVALSHA could meet an empty script cache (NOSCRIPT would send the text only after a round trip, too
 * late for that order). A NOSCRIPT all the same (SCRIPT FLUSH) falls back to EVAL.
 */
export async function evalScript(
  redis: Redis,
  script: LuaScript,
  numKeys: number,
  ...args: (string | number)[]
): Promise<unknown> {
  const known = sentOn(redis);
  if (!known.has(script.sha)) {
    known.add(script.sha);
    return redis.eval(script.source, numKeys, ...args);
  }
  try {
    return await redis.evalsha(script.sha, numKeys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(script.source, numKeys, ...args);
  }
}
