import { Cron } from 'croner';

/** When a SCHEDULED worker is next due: interval (fixed delay after the previous run ended) or cron. */
export interface Schedule {
  /** The first due time after `start()`. */
  first(now: number): number;
  /** The next due time once a run ended at `endedAt`. */
  next(endedAt: number, now: number): number;
}

export function intervalSchedule(intervalSeconds: number): Schedule {
  const ms = intervalSeconds * 1000;
  return {
    first: (now) => now,
    next: (endedAt) => endedAt + ms,
  };
}

/**
 * Parsed patterns, shared: a croner instance holds tens of kilobytes, and many workers share a few
 * patterns. Instances are never started, only asked for their next time, so sharing is safe.
 */
const parsed = new Map<string, Cron>();

/** Parses (once) a cron pattern; throws croner's error for an invalid one. */
export function parseCron(pattern: string): Cron {
  let cron = parsed.get(pattern);
  if (cron === undefined) {
    cron = new Cron(pattern, { paused: true });
    parsed.set(pattern, cron);
  }
  return cron;
}

export function cronSchedule(pattern: string): Schedule {
  const cron = parseCron(pattern);
  const after = (t: number) => cron.nextRun(new Date(t))?.getTime() ?? Infinity;
  return {
    first: (now) => after(now),
    // Cron times are absolute: a run that overran its next time waits for the one after now.
    next: (_endedAt, now) => after(now),
  };
}
