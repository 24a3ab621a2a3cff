import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunOrigin } from '../../src/run.ts';
import { canStart, depsFreshFor, pipelineDue } from '../../src/scheduler/gates.ts';
import { WorkerExecutionMode } from '../../src/types.ts';
import { makeRun, makeWorker } from '../helpers.ts';

const ALL_ORIGINS: RunOrigin[] = ['schedule', 'continuous', 'trigger', 'run', 'pipeline', 'replay'];

describe('canStart', () => {
  it('lets an idle, enabled worker start', () => {
    const w = makeWorker('w');
    for (const origin of ALL_ORIGINS) assert.equal(canStart(w, makeRun(w, 1, origin)), true, origin);
  });

  it('refuses a worker disabled by hand', () => {
    const w = makeWorker('w');
    w.manuallyEnabled = false;
    assert.equal(w.enabled, false);
    assert.equal(canStart(w, makeRun(w)), false);
  });

  it('refuses while the breaker is open; half-open allows only the one trial', () => {
    const w = makeWorker('w', { maxConsecutiveFailures: 1, breakerCooldownSeconds: 5 });
    w.breaker.onFailure(false);
    assert.equal(w.enabled, false);
    assert.equal(canStart(w, makeRun(w)), false);
    w.breaker.halfOpen();
    assert.equal(w.enabled, true, 'half-open shows enabled');
    assert.equal(canStart(w, makeRun(w)), true);
    w.breaker.onRunStart();
    w.inFlight = 0; // even with a free concurrency slot
    assert.equal(canStart(w, makeRun(w)), false);
  });

  it('respects the worker concurrency', () => {
    const one = makeWorker('one');
    one.inFlight = 1;
    assert.equal(canStart(one, makeRun(one)), false);
    const two = makeWorker('two', { concurrency: 2 });
    two.inFlight = 1;
    assert.equal(canStart(two, makeRun(two)), true);
    two.inFlight = 2;
    assert.equal(canStart(two, makeRun(two)), false);
  });

  it('never starts while a worker it excludes (blocks, either way) runs', () => {
    const a = makeWorker('a');
    const b = makeWorker('b');
    a.exclusive = [b];
    b.exclusive = [a];
    b.inFlight = 1;
    assert.equal(canStart(a, makeRun(a, 1, 'run')), false);
    b.inFlight = 0;
    a.inFlight = 1;
    assert.equal(canStart(b, makeRun(b, 1, 'trigger')), false);
    a.inFlight = 0;
    assert.equal(canStart(a, makeRun(a)), true);
    assert.equal(canStart(b, makeRun(b)), true);
  });

  it('waits for running dependencies whatever the origin', () => {
    const dep = makeWorker('dep');
    const w = makeWorker('w');
    w.deps = [dep];
    dep.lastSuccessSeq = 10;
    dep.inFlight = 1;
    for (const origin of ALL_ORIGINS) assert.equal(canStart(w, makeRun(w, 1, origin)), false, origin);
  });

  it('scheduled, continuous and pipeline runs need a fresh dependency success; requested runs do not', () => {
    const dep = makeWorker('dep');
    const w = makeWorker('w');
    w.deps = [dep];
    // the dependency never succeeded
    for (const origin of ['schedule', 'continuous', 'pipeline'] as const)
      assert.equal(canStart(w, makeRun(w, 1, origin)), false, origin);
    for (const origin of ['run', 'trigger', 'replay'] as const)
      assert.equal(canStart(w, makeRun(w, 1, origin)), true, origin);
    // the dependency succeeded (seq 3): fresh for a worker that never ran
    dep.lastSuccessSeq = 3;
    assert.equal(canStart(w, makeRun(w, 1, 'schedule')), true);
    // w started after that success (seq 4): stale again until dep succeeds anew
    w.lastStartSeq = 4;
    assert.equal(canStart(w, makeRun(w, 1, 'schedule')), false);
    assert.equal(canStart(w, makeRun(w, 1, 'run')), true);
    dep.lastSuccessSeq = 5;
    assert.equal(canStart(w, makeRun(w, 1, 'continuous')), true);
  });
});

describe('depsFreshFor / pipelineDue', () => {
  it('depsFreshFor compares sequence numbers strictly', () => {
    const dep = makeWorker('dep');
    const w = makeWorker('w');
    assert.equal(depsFreshFor(w, dep), false);
    dep.lastSuccessSeq = 1;
    assert.equal(depsFreshFor(w, dep), true);
    w.lastStartSeq = 1;
    assert.equal(depsFreshFor(w, dep), false);
  });

  it('pipelineDue needs dependencies, all of them fresh', () => {
    const a = makeWorker('a');
    const b = makeWorker('b');
    const w = makeWorker('w', { executionMode: WorkerExecutionMode.TRIGGERED });
    assert.equal(pipelineDue(w), false, 'no dependencies: never a pipeline');
    w.deps = [a, b];
    assert.equal(pipelineDue(w), false);
    a.lastSuccessSeq = 2;
    assert.equal(pipelineDue(w), false, 'b has not succeeded');
    b.lastSuccessSeq = 3;
    assert.equal(pipelineDue(w), true);
    w.lastStartSeq = 4;
    assert.equal(pipelineDue(w), false);
    a.lastSuccessSeq = 5;
    assert.equal(pipelineDue(w), false);
    b.lastSuccessSeq = 6;
    assert.equal(pipelineDue(w), true);
  });
});
