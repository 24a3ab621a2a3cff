import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimerQueue } from '../../src/scheduler/timer-queue.ts';
import { ManualClock } from './manual-clock.ts';

function setup(start = 0) {
  const clock = new ManualClock(start);
  const fired: Array<[string, number]> = [];
  const queue = new TimerQueue<string>(clock, (key) => fired.push([key, clock.now()]));
  return { clock, fired, queue };
}

describe('TimerQueue', () => {
  it('fires keys in due order, each at its due time, with one timer armed', () => {
    const { clock, fired, queue } = setup();
    queue.schedule('c', 300);
    queue.schedule('a', 100);
    queue.schedule('b', 200);
    queue.start();
    assert.equal(clock.pending, 1);
    clock.advance(99);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [['a', 100]]);
    assert.equal(clock.pending, 1);
    clock.advance(500);
    assert.deepEqual(fired, [
      ['a', 100],
      ['b', 200],
      ['c', 300],
    ]);
    assert.equal(clock.pending, 0, 'nothing left: no timer');
  });

  it('fires keys due at the same time together', () => {
    const { clock, fired, queue } = setup();
    queue.start();
    queue.schedule('x', 50);
    queue.schedule('y', 50);
    clock.advance(50);
    assert.deepEqual(fired.map(([k]) => k).sort(), ['x', 'y']);
  });

  it('dueAt reports the scheduled time until the key fires or is cancelled', () => {
    const { clock, queue } = setup();
    queue.start();
    queue.schedule('a', 100);
    queue.schedule('b', 200);
    assert.equal(queue.dueAt('a'), 100);
    queue.schedule('a', 150);
    assert.equal(queue.dueAt('a'), 150);
    clock.advance(150);
    assert.equal(queue.dueAt('a'), undefined);
    queue.cancel('b');
    assert.equal(queue.dueAt('b'), undefined);
  });

  it('re-scheduling a key later replaces the earlier time: the old entry never fires', () => {
    const { clock, fired, queue } = setup();
    queue.start();
    queue.schedule('a', 100);
    queue.schedule('a', 500);
    clock.advance(499);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [['a', 500]]);
    clock.advance(10_000);
    assert.equal(fired.length, 1);
  });

  it('re-scheduling a key earlier moves it forward and fires it once', () => {
    const { clock, fired, queue } = setup();
    queue.start();
    queue.schedule('a', 500);
    queue.schedule('a', 100);
    clock.advance(100);
    assert.deepEqual(fired, [['a', 100]]);
    clock.advance(1000);
    assert.deepEqual(fired, [['a', 100]]);
  });

  it('cancel removes a key; others still fire', () => {
    const { clock, fired, queue } = setup();
    queue.start();
    queue.schedule('a', 100);
    queue.schedule('b', 200);
    queue.cancel('a');
    clock.advance(1000);
    assert.deepEqual(fired, [['b', 200]]);
    queue.cancel('unknown');
  });

  it('a key scheduled in the past fires at once', () => {
    const { clock, fired, queue } = setup(1000);
    queue.start();
    queue.schedule('late', 10);
    clock.runDue();
    assert.deepEqual(fired, [['late', 1000]]);
  });

  it('does not fire before start(); pause keeps schedules; start fires what became due', () => {
    const { clock, fired, queue } = setup();
    queue.schedule('a', 100);
    queue.schedule('b', 300);
    clock.advance(200);
    assert.deepEqual(fired, []);
    assert.equal(clock.pending, 0);
    queue.start();
    clock.runDue();
    assert.deepEqual(fired, [['a', 200]]);
    queue.pause();
    assert.equal(clock.pending, 0, 'pause disarms the timer');
    clock.advance(500);
    assert.deepEqual(fired, [['a', 200]]);
    queue.schedule('c', 900);
    assert.equal(clock.pending, 0, 'schedule while paused arms nothing');
    queue.start();
    clock.runDue();
    assert.deepEqual(fired, [
      ['a', 200],
      ['b', 700],
    ]);
    clock.advance(200);
    assert.deepEqual(fired.at(-1), ['c', 900]);
  });

  it('pause from inside onDue stops firing the rest until start', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const queue: TimerQueue<string> = new TimerQueue<string>(clock, (key) => {
      fired.push(key);
      queue.pause();
    });
    queue.schedule('a', 10);
    queue.schedule('b', 10);
    queue.start();
    clock.advance(10);
    assert.deepEqual(fired, ['a']);
    assert.equal(clock.pending, 0);
    queue.start();
    clock.runDue();
    assert.deepEqual(fired, ['a', 'b']);
  });

  it('a key re-scheduled from inside onDue fires again', () => {
    const clock = new ManualClock(0);
    const times: number[] = [];
    const queue: TimerQueue<string> = new TimerQueue<string>(clock, (key) => {
      times.push(clock.now());
      if (times.length < 3) queue.schedule(key, clock.now() + 100);
    });
    queue.start();
    queue.schedule('a', 100);
    clock.advance(1000);
    assert.deepEqual(times, [100, 200, 300]);
    assert.equal(clock.pending, 0);
  });

  it('clear drops every schedule and disarms', () => {
    const { clock, fired, queue } = setup();
    queue.start();
    queue.schedule('a', 10);
    queue.clear();
    assert.equal(clock.pending, 0);
    assert.equal(queue.dueAt('a'), undefined);
    queue.start();
    clock.advance(100);
    assert.deepEqual(fired, []);
  });

  it('100,000 keys cost one timer, whatever the order they are scheduled in', () => {
    const clock = new ManualClock(0);
    let count = 0;
    let last = -1;
    let inOrder = true;
    const queue = new TimerQueue<number>(clock, (key) => {
      count++;
      if (key < last) inOrder = false;
      last = key;
    });
    queue.start();
    const n = 100_000;
    // keys are scheduled at due time == key, in a shuffled but deterministic order
    const order = Array.from({ length: n }, (_, i) => i + 1);
    let seed = 12345;
    for (let i = n - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const j = seed % (i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const key of order) queue.schedule(key, key);
    assert.equal(clock.pending, 1, 'one timer armed');
    assert.ok(clock.setTimeoutCalls < 100, `setTimeout called ${clock.setTimeoutCalls} times`);
    const callsBefore = clock.setTimeoutCalls;
    clock.advance(n);
    assert.equal(count, n);
    assert.ok(inOrder, 'keys fired in due order');
    assert.equal(clock.pending, 0);
    // each firing re-arms at most once
    assert.ok(clock.setTimeoutCalls - callsBefore <= n);
  });

  it('100,000 keys scheduled before start cost a single setTimeout', () => {
    const clock = new ManualClock(0);
    const queue = new TimerQueue<number>(clock, () => {});
    for (let i = 0; i < 100_000; i++) queue.schedule(i, 1_000_000 - i);
    queue.start();
    assert.equal(clock.setTimeoutCalls, 1);
    assert.equal(clock.pending, 1);
    assert.equal(clock.nextDueAt, 1_000_000 - 99_999);
  });
});
