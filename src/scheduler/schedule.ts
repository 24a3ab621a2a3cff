import { Cron } from 'croner';

/** What to do with runs a SCHEDULED worker missed while the host was down. */
export type MissedRuns = 'once' | 'skip';

/** When a SCHEDULED worker is next due: interval (fixed delay after the previous run ended) or cron. */
export interface Schedule {
  /** The first due time after `start()` when nothing is known of earlier runs. */
  first(now: number): number;
  /** The next due time once a run ended at `endedAt`. */
  next(endedAt: number, now: number): number;
  /**
   * The first due time after a restart, from the stored last run (start and end, epoch ms): a run the
   * host missed while it was down happens at once ('once') or is skipped for the next due time ('skip').
   */
  resume(lastRunAt: number, lastEndedAt: number, now: number, missedRuns: MissedRuns): number;
}

/** Schedules hold no state of their own: workers with the same interval or pattern share one. */
const intervals = new Map<number, Schedule>();
const crons = new Map<string, Schedule>();

export function intervalSchedule(intervalSeconds: number): Schedule {
  let schedule = intervals.get(intervalSeconds);
  if (schedule === undefined) {
    schedule = makeIntervalSchedule(intervalSeconds);
    intervals.set(intervalSeconds, schedule);
  }
  return schedule;
}

function makeIntervalSchedule(intervalSeconds: number): Schedule {
  const ms = intervalSeconds * 1000;
  return {
    first: (now) => now,
    next: (endedAt) => endedAt + ms,
    resume: (_lastRunAt, lastEndedAt, now, missedRuns) => {
      const due = lastEndedAt + ms;
      if (due > now || missedRuns === 'once') return Math.max(due, now);
      // Skip: the next time of the series lastEnded + k × interval that is still ahead.
      return lastEndedAt + Math.ceil((now - lastEndedAt) / ms) * ms;
    },
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
  let schedule = crons.get(pattern);
  if (schedule === undefined) {
    schedule = makeCronSchedule(pattern);
    crons.set(pattern, schedule);
  }
  return schedule;
}

function makeCronSchedule(pattern: string): Schedule {
  const cron = parseCron(pattern);
  const after = (t: number) => cron.nextRun(new Date(t))?.getTime() ?? Number.POSITIVE_INFINITY;
  return {
    first: (now) => after(now),
    // Cron times are absolute: a run that overran its next time waits for the one after now.
    next: (_endedAt, now) => after(now),
    resume: (lastRunAt, _lastEndedAt, now, missedRuns) => {
      const missed = after(lastRunAt) <= now;
      return missed && missedRuns === 'once' ? now : after(now);
    },
  };
}
