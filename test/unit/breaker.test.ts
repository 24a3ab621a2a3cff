import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../src/breaker.ts';

function openBreaker(threshold = 3, cooldown: number | null = 10): CircuitBreaker {
  const b = new CircuitBreaker(threshold, cooldown);
  for (let i = 0; i < threshold; i++) b.onFailure(false);
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
    assert.equal(b.onFailure(false), false);
    assert.equal(b.onFailure(false), false);
    assert.equal(b.state, 'closed');
    assert.equal(b.canStart(), true);
    assert.equal(b.onFailure(false), true);
    assert.equal(b.state, 'open');
    assert.equal(b.canStart(), false);
    assert.equal(b.consecutiveFailures, 3);
    assert.equal(b.onFailure(false), false, 'already open: not reported again');
    assert.equal(b.state, 'open');
  });

  it('threshold 1 opens on the first failure', () => {
    const b = new CircuitBreaker(1, null);
    assert.equal(b.onFailure(false), true);
    assert.equal(b.state, 'open');
  });

  it('a success resets the consecutive count', () => {
    const b = new CircuitBreaker(3, null);
    b.onFailure(false);
    b.onFailure(false);
    b.onSuccess(false);
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(b.onFailure(false), false);
    assert.equal(b.onFailure(false), false);
    assert.equal(b.state, 'closed');
    assert.equal(b.onFailure(false), true);
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
    assert.equal(b.onRunStart(), true, 'the first run in half-open is the trial');
    assert.equal(b.onSuccess(true), true, 'reports that it closed');
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
    assert.equal(b.onFailure(true), true);
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
    b.onAborted(false);
    assert.equal(b.canStart(), false, 'a straggler aborted does not free the trial');
    b.onAborted(true);
    assert.equal(b.state, 'half-open');
    assert.equal(b.canStart(), true);
    b.onRunStart();
    assert.equal(b.canStart(), false);
  });

  it('onAborted does nothing when closed or open', () => {
    const closed = new CircuitBreaker(2, null);
    closed.onFailure(false);
    closed.onAborted(false);
    assert.equal(closed.state, 'closed');
    assert.equal(closed.consecutiveFailures, 1);
    const open = openBreaker();
    open.onAborted(false);
    assert.equal(open.state, 'open');
    assert.equal(open.canStart(), false);
  });

  it('reset closes from open and from a running half-open trial', () => {
    const b = openBreaker();
    b.reset();
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(b.canStart(), true);
    assert.equal(b.onFailure(false), false, 'count restarted from 0');

    const h = openBreaker();
    h.halfOpen();
    h.onRunStart();
    h.reset();
    assert.equal(h.state, 'closed');
    assert.equal(h.canStart(), true);
  });

  it('stragglers (runs in flight when it opened) neither close nor re-open it', () => {
    const b = openBreaker(1, 10);
    assert.equal(b.onSuccess(false), false);
    assert.equal(b.state, 'open', 'a straggler success does not close an open breaker');
    b.halfOpen();
    assert.equal(b.onRunStart(), true);
    assert.equal(b.onFailure(false), false, 'a straggler failure while the trial runs');
    assert.equal(b.state, 'half-open');
    assert.equal(b.onSuccess(false), false);
    assert.equal(b.state, 'half-open', 'only the trial decides');
    assert.equal(b.onSuccess(true), true);
    assert.equal(b.state, 'closed');
  });

  it('onRunStart is not a trial while closed', () => {
    const b = new CircuitBreaker(3, null);
    assert.equal(b.onRunStart(), false);
  });
});
