// systemClock: waits longer than one Node timer can hold (2^31-1 ms, about 24.8 days) are chained, not
// clamped (fired early) nor overflowed (fired after 1 ms); handles can be cleared and unref'd.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type TimerHandle } from '../../src/clock.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;
const LONG_MS = 2 ** 31 + 5000;

/** How many ref'd timers keep this process alive. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/** The handle's unref(), asserting that it has one. */
function unrefOf(handle: TimerHandle): () => unknown {
  const unref = (handle as { unref?: unknown }).unref;
  assert.equal(typeof unref, 'function', 'the handle has unref()');
  return (unref as () => unknown).bind(handle);
}

describe('systemClock', () => {
  it('a short delay fires; a negative one fires at once', async () => {
    const fired: string[] = [];
    systemClock.setTimeout(() => fired.push('short'), 5);
    systemClock.setTimeout(() => fired.push('negative'), -100);
    await sleep(60);
    assert.deepEqual(fired.sort(), ['negative', 'short']);
  });

  it(`a ${LONG_MS} ms delay does not fire within 100 ms; clearTimeout stops it; unref() lets the host exit`, async () => {
    const before = activeTimers();
    let fired = 0;
    const handle = systemClock.setTimeout(() => fired++, LONG_MS);
    assert.equal(activeTimers(), before + 1, 'the timer keeps the host alive until unref()');
    await sleep(100);
    assert.equal(fired, 0, 'a delay past 2^31-1 ms fired at once');
    unrefOf(handle)();
    assert.equal(activeTimers(), before, 'unref() did not unref the timer');
    systemClock.clearTimeout(handle);

    const other = systemClock.setTimeout(() => fired++, LONG_MS);
    assert.equal(activeTimers(), before + 1);
    systemClock.clearTimeout(other);
    assert.equal(activeTimers(), before, 'clearTimeout left the timer armed');
    await sleep(20);
    assert.equal(fired, 0);
  });

  it('a delay past 2^31-1 ms fires at its time, not when the first Node timer ends (mocked time)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let fired = 0;
    systemClock.setTimeout(() => fired++, LONG_MS);
    t.mock.timers.tick(MAX_TIMER_MS);
    assert.equal(fired, 0, 'fired after 2^31-1 ms (clamped) instead of chaining');
    t.mock.timers.tick(4000);
    assert.equal(fired, 0, 'fired early');
    t.mock.timers.tick(2000);
    assert.equal(fired, 1, 'did not fire at its due time');
    t.mock.timers.tick(3 * MAX_TIMER_MS);
    assert.equal(fired, 1, 'fired more than once');
  });

  it('a wait of several chained steps fires once, at its time (mocked time)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const delay = 3 * MAX_TIMER_MS + 1234;
    const start = Date.now();
    const firedAt: number[] = [];
    systemClock.setTimeout(() => firedAt.push(Date.now() - start), delay);
    for (let elapsed = 0; elapsed < delay + 10_000; elapsed += 1000 * 3600) t.mock.timers.tick(1000 * 3600);
    assert.equal(firedAt.length, 1);
    const at = firedAt[0] as number;
    assert.ok(at >= delay && at < delay + 1000 * 3600, `fired after ${at} ms, due after ${delay} ms`);
  });

  it('clearTimeout stops a long wait also after a chained step (mocked time)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let fired = 0;
    const early = systemClock.setTimeout(() => fired++, LONG_MS);
    const late = systemClock.setTimeout(() => fired++, LONG_MS);
    systemClock.clearTimeout(early);
    t.mock.timers.tick(MAX_TIMER_MS); // `late` re-arms its next step here
    systemClock.clearTimeout(late);
    t.mock.timers.tick(2 * MAX_TIMER_MS);
    assert.equal(fired, 0, 'a cleared long timer fired');
  });
});
