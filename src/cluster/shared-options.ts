import type { ResolvedWorkerOptions } from '../types.ts';

/**
 * The options of a worker that hold cluster-wide (README: "Running on several machines"): they come
 * from the latest registration to start, which records them in Redis; every other host adopts them.
 * Execution options (isolation, timeouts, memory, env) stay each host's own.
 */
const SHARED = [
  'executionMode',
  'intervalSeconds',
  'cron',
  'missedRuns',
  'concurrency',
  'maxQueue',
  'maxRetries',
  'retryDelayMs',
  'maxConsecutiveFailures',
  'breakerCooldownSeconds',
  'blocks',
  'dependsOn',
  'priority',
] as const satisfies readonly (keyof ResolvedWorkerOptions)[];

/** What a host cannot change in a worker it has set up: how its runs come (its lane and schedule). */
const SCHEDULE = new Set<string>(['executionMode', 'intervalSeconds', 'cron', 'missedRuns']);

type SharedKey = (typeof SHARED)[number];
export type SharedOptions = Record<SharedKey, unknown>;

/** The cluster-wide options of a registration, as recorded in Redis (JSON: `cron` null when unset). */
export function sharedOptions(options: ResolvedWorkerOptions): SharedOptions {
  const out = {} as SharedOptions;
  for (const key of SHARED) out[key] = options[key] ?? null;
  out.blocks = [...options.blocks].sort();
  out.dependsOn = [...options.dependsOn].sort();
  return out;
}

/** The keys whose values differ between two records. */
export function differing(a: SharedOptions, b: Partial<SharedOptions>): SharedKey[] {
  return SHARED.filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key] ?? null));
}

/**
 * What a host takes from the latest registration `latest` into its own `options`: every cluster-wide
 * option that differs, but the schedule (`executionMode`, interval, cron, `missedRuns`) only when the
 * execution mode is the same here (a worker triggered on one host and scheduled on another keeps its
 * own mode: its runs are set up differently). `skipped` names what was kept for that reason.
 */
export function adoption(
  options: ResolvedWorkerOptions,
  latest: Partial<SharedOptions>,
): { changes: Partial<ResolvedWorkerOptions>; changed: SharedKey[]; skipped: SharedKey[] } {
  const keys = differing(sharedOptions(options), latest);
  const sameMode = latest.executionMode === options.executionMode;
  const changed = keys.filter((key) => sameMode || !SCHEDULE.has(key));
  const skipped = keys.filter((key) => !changed.includes(key));
  const changes: Record<string, unknown> = {};
  for (const key of changed) {
    const value = latest[key] ?? null;
    if (key === 'cron') changes.cron = value === null ? undefined : value;
    else if (key === 'blocks' || key === 'dependsOn') changes[key] = Object.freeze([...(value as string[])]);
    else changes[key] = value;
  }
  return { changes: changes as Partial<ResolvedWorkerOptions>, changed, skipped };
}
