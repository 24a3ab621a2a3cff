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

export function cronSchedule(pattern: string): Schedule {
  const cron = new Cron(pattern, { paused: true });
  const after = (t: number) => cron.nextRun(new Date(t))?.getTime() ?? Infinity;
  return {
    first: (now) => after(now),
    // Cron times are absolute: a run that overran its next time waits for the one after now.
    next: (_endedAt, now) => after(now),
  };
}
