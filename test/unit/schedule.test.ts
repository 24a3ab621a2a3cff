import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronSchedule, intervalSchedule } from '../../src/scheduler/schedule.ts';

describe('intervalSchedule', () => {
  it('is first due at start, then interval after the previous run ended', () => {
    const s = intervalSchedule(300);
    const now = Date.UTC(2024, 0, 1, 12, 0, 0);
    assert.equal(s.first(now), now);
    assert.equal(s.next(now + 42_000, now + 50_000), now + 42_000 + 300_000);
  });

  it('handles fractional seconds', () => {
    const s = intervalSchedule(0.25);
    assert.equal(s.next(1000, 5000), 1250);
  });
});

describe('cronSchedule', () => {
  it("'*/5 * * * * *' is due on 5-second boundaries, strictly after now", () => {
    const s = cronSchedule('*/5 * * * * *');
    const base = Date.UTC(2024, 0, 1, 12, 0, 0);
    const first = s.first(base + 1234);
    assert.equal(first, base + 5000);
    assert.equal(s.first(base + 4999), base + 5000);
    let t = base + 1;
    for (let i = 0; i < 20; i++) {
      const next = s.next(t, t);
      assert.equal(next % 5000, 0, `${new Date(next).toISOString()} not on a 5 s boundary`);
      assert.ok(next > t && next - t <= 5000, `next ${next} after ${t}`);
      t = next + 1;
    }
  });

  it('next is taken from now, not from when the run ended (an overrun skips missed times)', () => {
    const s = cronSchedule('*/5 * * * * *');
    const base = Date.UTC(2024, 0, 1, 12, 0, 0);
    assert.equal(s.next(base + 1000, base + 17_500), base + 20_000);
  });

  it('accepts 5-field patterns (minutes)', () => {
    const s = cronSchedule('*/10 * * * *');
    const base = Date.UTC(2024, 0, 1, 12, 0, 0);
    const next = s.first(base + 1);
    assert.equal(next % 600_000, 0);
    assert.equal(next, base + 600_000);
  });
});
