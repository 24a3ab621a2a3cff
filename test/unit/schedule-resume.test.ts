// Schedule.resume (src/scheduler/schedule.ts): the first due time after a restart, from the stored
// last run. Pure functions of fixed times.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronSchedule, intervalSchedule } from '../../src/scheduler/schedule.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
/** A fixed instant on a whole hour (UTC and every whole-quarter-hour time zone). */
const T = Date.UTC(2024, 2, 10, 12, 0, 0);

describe('intervalSchedule.resume', () => {
  const s = intervalSchedule(3600);
  // The previous run started at T and ended 5 s later.
  const lastRunAt = T;
  const lastEndedAt = T + 5 * SEC;

  it('not yet due: the due time (interval after the previous run ended), whatever missedRuns says', () => {
    const now = T + 20 * MIN;
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'once'), lastEndedAt + HOUR);
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'skip'), lastEndedAt + HOUR);
  });

  it('due exactly now: now, whatever missedRuns says', () => {
    const now = lastEndedAt + HOUR;
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'once'), now);
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'skip'), now);
  });

  it("missed while down, 'once': now", () => {
    for (const now of [lastEndedAt + HOUR + 1, T + 2 * HOUR + 17 * MIN, T + 30 * 24 * HOUR]) {
      assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'once'), now);
    }
  });

  it("missed while down, 'skip': the next point of the series lastEnded + k × interval after now", () => {
    assert.equal(s.resume(lastRunAt, lastEndedAt, T + 2 * HOUR + 17 * MIN, 'skip'), lastEndedAt + 3 * HOUR);
    assert.equal(s.resume(lastRunAt, lastEndedAt, lastEndedAt + HOUR + 1, 'skip'), lastEndedAt + 2 * HOUR);
    assert.equal(
      s.resume(lastRunAt, lastEndedAt, lastEndedAt + 50 * HOUR - 1, 'skip'),
      lastEndedAt + 50 * HOUR,
    );
    // Several points missed: still only the next one ahead, on the series.
    const now = T + 30 * 24 * HOUR + 123;
    const due = s.resume(lastRunAt, lastEndedAt, now, 'skip');
    assert.ok(due >= now && due < now + HOUR, `${due - now} ms after now`);
    assert.equal((due - lastEndedAt) % HOUR, 0, 'on the series');
  });

  it("'skip' at a point of the series: that point (now)", () => {
    const now = lastEndedAt + 3 * HOUR;
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'skip'), now);
  });

  it('short and fractional intervals', () => {
    const quarter = intervalSchedule(0.25);
    assert.equal(quarter.resume(0, 1000, 1100, 'skip'), 1250);
    assert.equal(quarter.resume(0, 1000, 1300, 'skip'), 1500);
    assert.equal(quarter.resume(0, 1000, 1300, 'once'), 1300);
  });
});

describe('cronSchedule.resume (6 fields: with seconds)', () => {
  // At second 30 of every 15th minute: :00:30, :15:30, :30:30, :45:30.
  const s = cronSchedule('30 */15 * * * *');
  // The previous run started on a cron time and ended 2 s later.
  const lastRunAt = T + 15 * MIN + 30 * SEC;
  const lastEndedAt = lastRunAt + 2 * SEC;

  it('no cron time passed since the last run: the next cron time, whatever missedRuns says', () => {
    const now = T + 25 * MIN;
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'once'), T + 30 * MIN + 30 * SEC);
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'skip'), T + 30 * MIN + 30 * SEC);
  });

  it("a cron time passed while down, 'once': now", () => {
    const now = T + 31 * MIN;
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'once'), now);
    const later = T + 5 * HOUR + 1;
    assert.equal(s.resume(lastRunAt, lastEndedAt, later, 'once'), later);
  });

  it("a cron time passed while down, 'skip': the next cron time after now", () => {
    assert.equal(s.resume(lastRunAt, lastEndedAt, T + 31 * MIN, 'skip'), T + 45 * MIN + 30 * SEC);
    assert.equal(s.resume(lastRunAt, lastEndedAt, T + 5 * HOUR + 1, 'skip'), T + 5 * HOUR + 30 * SEC);
  });

  it('the cron time exactly at now counts as missed', () => {
    const now = T + 30 * MIN + 30 * SEC;
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'once'), now);
    assert.equal(s.resume(lastRunAt, lastEndedAt, now, 'skip'), T + 45 * MIN + 30 * SEC);
  });

  it('counts the cron times passed since the last run started (implementation notes)', () => {
    // A run that started at :10 and ended at :25 with a restart at :26: the :20 time lies after the
    // start, so it counts as missed.
    const s2 = cronSchedule('*/10 * * * * *');
    const started = T + 10 * SEC;
    const ended = T + 25 * SEC;
    const now = T + 26 * SEC;
    assert.equal(s2.resume(started, ended, now, 'once'), now);
    assert.equal(s2.resume(started, ended, now, 'skip'), T + 30 * SEC);
  });
});
