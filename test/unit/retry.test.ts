import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, MAX_BACKOFF_MS } from '../../src/retry.ts';

const one = () => 1;
const zero = () => 0;

describe('backoffDelay', () => {
  it('with random=1 is base * 2^(retry-1): attempt 2 -> base, 3 -> 2*base, 4 -> 4*base', () => {
    assert.equal(backoffDelay(1000, 2, one), 1000);
    assert.equal(backoffDelay(1000, 3, one), 2000);
    assert.equal(backoffDelay(1000, 4, one), 4000);
    assert.equal(backoffDelay(1000, 5, one), 8000);
    assert.equal(backoffDelay(250, 3, one), 500);
  });

  it('with random=0 is 0 (full jitter)', () => {
    assert.equal(backoffDelay(1000, 2, zero), 0);
    assert.equal(backoffDelay(1000, 7, zero), 0);
  });

  it('scales the ceiling by the draw', () => {
    assert.equal(
      backoffDelay(1000, 3, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(1000, 2, () => 0.25),
      250,
    );
  });

  it('base 0 gives 0 whatever the draw', () => {
    assert.equal(backoffDelay(0, 2, one), 0);
    assert.equal(backoffDelay(0, 50, one), 0);
  });

  it('is capped at 5 minutes, also for huge attempt numbers and bases', () => {
    assert.equal(MAX_BACKOFF_MS, 5 * 60 * 1000);
    assert.equal(backoffDelay(1000, 30, one), 300_000);
    assert.equal(backoffDelay(1000, 10_000, one), 300_000);
    assert.equal(backoffDelay(10_000_000, 2, one), 300_000);
    assert.equal(
      backoffDelay(1000, 1_000_000, () => 0.5),
      150_000,
    );
    assert.ok(Number.isFinite(backoffDelay(Number.MAX_SAFE_INTEGER, 2000, one)));
  });

  it('default random stays within [0, ceiling] and returns integers', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(100, 4);
      assert.ok(d >= 0 && d <= 400, `delay ${d} out of range`);
      assert.ok(Number.isInteger(d));
    }
  });
});
