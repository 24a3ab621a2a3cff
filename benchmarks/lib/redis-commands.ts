import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Redis } from 'ioredis';

/** What Redis did for the clients over one window (see {@link CommandCounter}). */
export interface CommandCount {
  windowMs: number;
  /**
   * Requests the clients sent, as MONITOR shows them: a script (EVAL / EVALSHA) counts as one, and so
   * does a MULTI … EXEC transaction (one write, one reply); blocking reads count as one each.
   */
  roundTrips: number;
  /** Commands the clients sent: each command of a transaction counts, the MULTI and EXEC do not. */
  clientCommands: number;
  /** Commands Redis executed (INFO commandstats, `calls`): those run inside scripts included. */
  executed: number;
  /** Round trips by kind: command name, BullMQ script name, `EVAL <key kind>`, `MULTI[...]`. */
  byRoundTrip: Record<string, number>;
  /** Executed commands by name (commandstats). */
  byExecuted: Record<string, number>;
}

/** The name of each of BullMQ's Lua scripts, by the SHA1 that EVALSHA sends (ioredis defineCommand). */
export function bullScriptNames(entryPoints: string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const entry of entryPoints) {
    // dist/cjs/index.js → dist/cjs/scripts/index.js: { [name]: { name, content, keys } }
    const scripts = createRequire(entry)(`${dirname(entry)}/scripts/index.js`) as Record<
      string,
      { name: string; content: string }
    >;
    for (const { name, content } of Object.values(scripts)) {
      names.set(createHash('sha1').update(content).digest('hex'), name);
    }
  }
  return names;
}

/** The kind of a key: corral's own `{c}:%corral:<kind>:…`, or BullMQ's `{c}:<queue>:<kind>` (last part). */
function keyKind(key: string | undefined): string {
  if (key === undefined) return '';
  const parts = key.replace(/^\{[^}]*\}:/, '').split(':');
  if (parts[0] === '%corral') return parts[1] ?? '';
  return parts[parts.length - 1] ?? '';
}

/** What a command sent by a client is counted as. */
function label(args: string[], scripts: Map<string, string>): string {
  const command = (args[0] ?? '').toUpperCase();
  if (command === 'EVALSHA') return `EVALSHA ${scripts.get(args[1] ?? '') ?? (args[1] ?? '').slice(0, 8)}`;
  if (command === 'EVAL') return Number(args[2]) > 0 ? `EVAL ${keyKind(args[3])}` : 'EVAL';
  return command;
}

/** `cmdstat_<name>:calls=<n>,...` lines of INFO commandstats, as name → calls. */
function commandStats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set((match[1] as string).toUpperCase(), Number(match[2]));
  }
  return calls;
}

/** This counter's own commands, left out of the executed count. */
const OWN = new Set(['INFO', 'MONITOR', 'CLIENT', 'HELLO', 'SELECT']);

/**
 * Counts what Redis does over a window: the commands clients send (MONITOR, where commands run inside a
 * script show with the source "lua" and are told apart) and those it executes (INFO commandstats diffed
 * over the window). MONITOR slows Redis: count over a sample, apart from the timed rounds.
 */
export class CommandCounter {
  readonly #redis: Redis;
  readonly #scripts: Map<string, string>;
  #monitor: Redis | undefined;
  #before = new Map<string, number>();
  #t0 = 0;
  #roundTrips = new Map<string, number>();
  #clientCommands = 0;
  /** Transactions being sent, by client address: the commands queued so far. */
  #multi = new Map<string, string[]>();

  constructor(port: number, scripts: Map<string, string>) {
    this.#redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
    this.#scripts = scripts;
  }

  async start(): Promise<void> {
    this.#roundTrips = new Map();
    this.#clientCommands = 0;
    this.#multi = new Map();
    if (this.#redis.status === 'wait') await this.#redis.connect();
    this.#before = commandStats(await this.#redis.info('commandstats'));
    const monitor = await this.#redis.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => this.#seen(args, source));
    this.#monitor = monitor;
    this.#t0 = performance.now();
  }

  async finish(): Promise<CommandCount> {
    const windowMs = performance.now() - this.#t0;
    // What was executed until now reaches the monitor connection at once: a moment for it to arrive.
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.#monitor?.disconnect();
    this.#monitor = undefined;
    const after = commandStats(await this.#redis.info('commandstats'));
    const byExecuted: Record<string, number> = {};
    let executed = 0;
    for (const [name, calls] of after) {
      const delta = calls - (this.#before.get(name) ?? 0);
      if (delta <= 0 || OWN.has(name)) continue;
      byExecuted[name] = delta;
      executed += delta;
    }
    let roundTrips = 0;
    for (const n of this.#roundTrips.values()) roundTrips += n;
    return {
      windowMs,
      roundTrips,
      clientCommands: this.#clientCommands,
      executed,
      byRoundTrip: Object.fromEntries(this.#roundTrips),
      byExecuted,
    };
  }

  async close(): Promise<void> {
    this.#monitor?.disconnect();
    this.#redis.disconnect();
  }

  #seen(args: string[], source: string): void {
    if (source === 'lua') return; // run inside a script: part of its one round trip
    const command = (args[0] ?? '').toUpperCase();
    const queued = this.#multi.get(source);
    if (command === 'MULTI') {
      this.#multi.set(source, []);
      return;
    }
    if (queued !== undefined && (command === 'EXEC' || command === 'DISCARD')) {
      this.#multi.delete(source);
      this.#count(`MULTI[${[...new Set(queued)].sort().join(',')}]`);
      return;
    }
    const name = label(args, this.#scripts);
    this.#clientCommands++;
    if (queued !== undefined) queued.push(name);
    else this.#count(name);
  }

  #count(name: string): void {
    this.#roundTrips.set(name, (this.#roundTrips.get(name) ?? 0) + 1);
  }
}

/** Per run, the largest first: `{ kind: count / runs }` (two decimals), at most `top` kinds. */
export function perRun(counts: Record<string, number>, runs: number, top = 12): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, n]) => [name, Math.round((n / runs) * 100) / 100]),
  );
}
