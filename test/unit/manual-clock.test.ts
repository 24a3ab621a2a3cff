import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from './manual-clock.ts';

describe('ManualClock', () => {
  it('starts at the given time and moves only on advance', () => {
    const clock = new ManualClock(1000);
    assert.equal(clock.now(), 1000);
    clock.advance(250);
    assert.equal(clock.now(), 1250);
    clock.advanceTo(2000);
    assert.equal(clock.now(), 2000);
  });

  it('fires due timers in time order, ties in the order they were set, with now() at their due time', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`b1@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`b2@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`late@${clock.now()}`), 31);
    clock.advance(30);
    assert.deepEqual(fired, ['a@10', 'b1@20', 'b2@20', 'c@30']);
    assert.equal(clock.now(), 30);
    assert.equal(clock.pending, 1);
    clock.advance(1);
    assert.deepEqual(fired.at(-1), 'late@31');
  });

  it('fires timers set during advance when they fall within the window', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => {
        fired.push(clock.now());
        clock.setTimeout(() => fired.push(clock.now()), 0);
        clock.setTimeout(() => fired.push(clock.now()), 100);
      }, 5);
    }, 10);
    clock.advance(20);
    assert.deepEqual(fired, [10, 15, 15]);
    assert.equal(clock.pending, 1);
    clock.advance(100);
    assert.deepEqual(fired, [10, 15, 15, 115]);
  });

  it('clearTimeout cancels, negative delays are due at once, setTimeout calls are counted', () => {
    const clock = new ManualClock(0);
    let fired = 0;
    const h = clock.setTimeout(() => fired++, 5);
    clock.setTimeout(() => fired++, -10);
    clock.clearTimeout(h);
    assert.equal(clock.setTimeoutCalls, 2);
    clock.runDue();
    assert.equal(fired, 1);
    clock.advance(10);
    assert.equal(fired, 1);
    assert.equal(clock.pending, 0);
  });
});
