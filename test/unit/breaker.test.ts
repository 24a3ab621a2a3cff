import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../src/breaker.ts';

function openBreaker(threshold = 3, cooldown: number | null = 10): CircuitBreaker {
  const b = new CircuitBreaker(threshold, cooldown);
  for (let i = 0; i < threshold; i++) b.onFailure();
  assert.equal(b.state, 'open');
  return b;
}

describe('CircuitBreaker', () => {
  it('starts closed with no failures and lets runs start', () => {
    const b = new CircuitBreaker(3, null);
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(b.canStart(), true);
    b.onRunStart();
    b.onRunStart();
    assert.equal(b.canStart(), true, 'closed: no limit from the breaker');
  });

  it('opens exactly at the threshold and reports it once', () => {
    const b = new CircuitBreaker(3, null);
    assert.equal(b.onFailure(), false);
    assert.equal(b.onFailure(), false);
    assert.equal(b.state, 'closed');
    assert.equal(b.canStart(), true);
    assert.equal(b.onFailure(), true);
    assert.equal(b.state, 'open');
    assert.equal(b.canStart(), false);
    assert.equal(b.consecutiveFailures, 3);
    assert.equal(b.onFailure(), false, 'already open: not reported again');
    assert.equal(b.state, 'open');
  });

  it('threshold 1 opens on the first failure', () => {
    const b = new CircuitBreaker(1, null);
    assert.equal(b.onFailure(), true);
    assert.equal(b.state, 'open');
  });

  it('a success resets the consecutive count', () => {
    const b = new CircuitBreaker(3, null);
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(b.onFailure(), false);
    assert.equal(b.onFailure(), false);
    assert.equal(b.state, 'closed');
    assert.equal(b.onFailure(), true);
  });

  it('cooldownMs: null stays null, seconds become ms, 0 is honoured', () => {
    assert.equal(new CircuitBreaker(3, null).cooldownMs, null);
    assert.equal(new CircuitBreaker(3, 0).cooldownMs, 0);
    assert.equal(new CircuitBreaker(3, 2.5).cooldownMs, 2500);
  });

  it('halfOpen only moves an open breaker', () => {
    const b = new CircuitBreaker(3, 1);
    b.halfOpen();
    assert.equal(b.state, 'closed');
    const open = openBreaker();
    open.halfOpen();
    assert.equal(open.state, 'half-open');
  });

  it('half-open allows exactly one trial; canStart is false while it runs', () => {
    const b = openBreaker();
    b.halfOpen();
    assert.equal(b.canStart(), true);
    assert.equal(b.canStart(), true, 'asking does not consume the trial');
    b.onRunStart();
    assert.equal(b.canStart(), false);
    assert.equal(b.state, 'half-open');
  });

  it('a successful trial closes the breaker and forgets failures', () => {
    const b = openBreaker();
    b.halfOpen();
    b.onRunStart();
    b.onSuccess();
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(b.canStart(), true);
    b.onRunStart();
    assert.equal(b.canStart(), true);
  });

  it('a failed trial re-opens the breaker and reports it', () => {
    const b = openBreaker(3);
    b.halfOpen();
    b.onRunStart();
    assert.equal(b.onFailure(), true);
    assert.equal(b.state, 'open');
    assert.equal(b.canStart(), false);
    assert.equal(b.consecutiveFailures, 4);
    // another cooldown, another trial
    b.halfOpen();
    assert.equal(b.canStart(), true);
  });

  it('an aborted trial frees the slot for another trial', () => {
    const b = openBreaker();
    b.halfOpen();
    b.onRunStart();
    assert.equal(b.canStart(), false);
    b.onAborted();
    assert.equal(b.state, 'half-open');
    assert.equal(b.canStart(), true);
    b.onRunStart();
    assert.equal(b.canStart(), false);
  });

  it('onAborted does nothing when closed or open', () => {
    const closed = new CircuitBreaker(2, null);
    closed.onFailure();
    closed.onAborted();
    assert.equal(closed.state, 'closed');
    assert.equal(closed.consecutiveFailures, 1);
    const open = openBreaker();
    open.onAborted();
    assert.equal(open.state, 'open');
    assert.equal(open.canStart(), false);
  });

  it('reset closes from open and from a running half-open trial', () => {
    const b = openBreaker();
    b.reset();
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(b.canStart(), true);
    assert.equal(b.onFailure(), false, 'count restarted from 0');

    const h = openBreaker();
    h.halfOpen();
    h.onRunStart();
    h.reset();
    assert.equal(h.state, 'closed');
    assert.equal(h.canStart(), true);
  });
});
