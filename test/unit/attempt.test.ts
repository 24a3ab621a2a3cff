import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Attempt, type AttemptLimits, type AttemptOutcome } from '../../src/attempt.ts';
import type { AttemptTask } from '../../src/isolation/protocol.ts';
import type { AttemptHooks, Sandbox, SandboxOutcome } from '../../src/isolation/sandbox.ts';
import { ManualClock } from './manual-clock.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A sandbox whose attempt ends when the test says so. */
class FakeSandbox implements Sandbox {
  readonly kind = 'thread' as const;
  readonly probe = undefined;
  runs = 0;
  usable = true;
  hooks: AttemptHooks | undefined;
  tasks: AttemptTask[] = [];
  aborted: number[] = [];
  #resolve: ((outcome: SandboxOutcome) => void) | undefined;

  run(task: AttemptTask, hooks: AttemptHooks): Promise<SandboxOutcome> {
    this.runs++;
    this.tasks.push(task);
    this.hooks = hooks;
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
  /** The worker function was called. */
  started(): void {
    this.hooks?.onStarted();
  }
  beat(): void {
    this.hooks?.onHeartbeat();
  }
  finish(outcome: SandboxOutcome): void {
    this.#resolve?.(outcome);
  }
  abort(id: number): void {
    this.aborted.push(id);
  }
  terminate(): Promise<void> {
    this.usable = false;
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.usable = false;
    return Promise.resolve();
  }
}

const task: AttemptTask = {
  id: 1,
  attempt: 1,
  payload: { x: 1 },
  heartbeatEveryMs: 0,
  enabled: true,
  consecutiveFailures: 0,
  lastRunAt: undefined,
  lastSuccessAt: undefined,
  lastError: undefined,
};

function setup(limits: Partial<AttemptLimits> = {}) {
  const clock = new ManualClock(1_000_000);
  const sandbox = new FakeSandbox();
  const outcomes: AttemptOutcome[] = [];
  const attempt = new Attempt(
    sandbox,
    task,
    { timeoutMs: Infinity, heartbeatTimeoutMs: undefined, ...limits },
    clock,
    (outcome) => outcomes.push(outcome),
  );
  attempt.start();
  return { clock, sandbox, outcomes, attempt };
}

function failed(outcome: AttemptOutcome | undefined) {
  assert.ok(outcome !== undefined, 'settled');
  assert.equal(outcome.ok, false);
  if (outcome.ok) throw new Error('unreachable');
  return outcome;
}

describe('Attempt', () => {
  it('hands the task to its sandbox at once and remembers when', () => {
    const { sandbox, attempt, clock } = setup({ timeoutMs: 1000 });
    assert.equal(sandbox.runs, 1);
    assert.deepEqual(sandbox.tasks, [task]);
    assert.equal(attempt.sandbox, sandbox);
    assert.equal(attempt.task, task);
    assert.equal(attempt.startedAt, clock.now());
    assert.equal(attempt.settled, false);
  });

  it('settles with the sandbox success, its duration on the clock, and clears its timers', async () => {
    const { clock, sandbox, outcomes, attempt } = setup({ timeoutMs: 5000, heartbeatTimeoutMs: 1000 });
    sandbox.started();
    clock.advance(300);
    sandbox.beat();
    clock.advance(150);
    sandbox.finish({ ok: true, value: 'result' });
    await tick();
    assert.deepEqual(outcomes, [{ ok: true, value: 'result', durationMs: 450 }]);
    assert.equal(attempt.settled, true);
    assert.equal(clock.pending, 0, 'timeout and heartbeat timers cleared');
    clock.advance(60_000);
    assert.equal(outcomes.length, 1);
  });

  it('passes a sandbox failure through with its reason and error', async () => {
    const { clock, sandbox, outcomes } = setup({ timeoutMs: 5000 });
    const error = new Error('thrown by the worker');
    clock.advance(20);
    sandbox.finish({ ok: false, reason: 'error', error });
    await tick();
    const outcome = failed(outcomes[0]);
    assert.equal(outcome.reason, 'error');
    assert.equal(outcome.error, error);
    assert.equal(outcome.durationMs, 20);
  });

  it("times out exactly at the deadline with outcome 'timeout'", () => {
    const { clock, outcomes, attempt } = setup({ timeoutMs: 1000 });
    clock.advance(999);
    assert.equal(outcomes.length, 0);
    assert.equal(attempt.settled, false);
    clock.advance(1);
    const outcome = failed(outcomes[0]);
    assert.equal(outcome.reason, 'timeout');
    assert.ok(outcome.error instanceof Error);
    assert.equal(outcome.durationMs, 1000);
    assert.equal(attempt.settled, true);
    assert.equal(clock.pending, 0);
  });

  it('the deadline runs from the hand-over, also when the worker function never starts (hanging load)', () => {
    const { clock, outcomes } = setup({ timeoutMs: 2000, heartbeatTimeoutMs: 100_000 });
    clock.advance(2000);
    assert.equal(failed(outcomes[0]).reason, 'timeout');
  });

  it('with timeout Infinity and no heartbeat watch, sets no timer and never times out', () => {
    const { clock, outcomes } = setup({ timeoutMs: Infinity });
    assert.equal(clock.pending, 0);
    clock.advance(365 * 24 * 3600 * 1000);
    assert.equal(outcomes.length, 0);
  });

  it("the heartbeat watch starts only at onStarted; silence then ends it as 'stalled'", () => {
    const { clock, sandbox, outcomes } = setup({ heartbeatTimeoutMs: 1000 });
    assert.equal(clock.pending, 0, 'no heartbeat timer before the worker function is called');
    clock.advance(5000);
    assert.equal(outcomes.length, 0);
    sandbox.started();
    clock.advance(999);
    assert.equal(outcomes.length, 0);
    clock.advance(1);
    const outcome = failed(outcomes[0]);
    assert.equal(outcome.reason, 'stalled');
    assert.ok(outcome.error instanceof Error);
    assert.equal(outcome.durationMs, 6000);
    assert.equal(clock.pending, 0);
  });

  it('beats keep it alive; it stalls exactly one limit after the last beat', () => {
    const { clock, sandbox, outcomes } = setup({ heartbeatTimeoutMs: 1000, timeoutMs: 60_000 });
    const t0 = clock.now();
    sandbox.started();
    for (let i = 0; i < 20; i++) {
      clock.advance(600);
      sandbox.beat();
    }
    assert.equal(outcomes.length, 0, 'alive after 12 s of regular beats');
    const lastBeat = clock.now();
    assert.equal(lastBeat - t0, 12_000);
    clock.advance(999);
    assert.equal(outcomes.length, 0);
    clock.advance(1);
    const outcome = failed(outcomes[0]);
    assert.equal(outcome.reason, 'stalled');
    assert.equal(clock.now(), lastBeat + 1000);
  });

  it('a beat just before the check moves the deadline', () => {
    const { clock, sandbox, outcomes } = setup({ heartbeatTimeoutMs: 1000 });
    sandbox.started();
    clock.advance(999);
    sandbox.beat();
    clock.advance(1);
    assert.equal(outcomes.length, 0);
    clock.advance(998);
    assert.equal(outcomes.length, 0);
    clock.advance(1);
    assert.equal(failed(outcomes[0]).reason, 'stalled');
  });

  it('the deadline still applies while heartbeats come in', () => {
    const { clock, sandbox, outcomes } = setup({ heartbeatTimeoutMs: 1000, timeoutMs: 3000 });
    sandbox.started();
    for (let i = 0; i < 10 && outcomes.length === 0; i++) {
      clock.advance(500);
      sandbox.beat();
    }
    const outcome = failed(outcomes[0]);
    assert.equal(outcome.reason, 'timeout');
    assert.equal(outcome.durationMs, 3000);
  });

  it('cancel settles at once; the sandbox outcome that follows is ignored', async () => {
    const { clock, sandbox, outcomes, attempt } = setup({ timeoutMs: 10_000, heartbeatTimeoutMs: 500 });
    sandbox.started();
    clock.advance(100);
    const reason = new Error('stopped by the caller');
    attempt.cancel('aborted', reason);
    const outcome = failed(outcomes[0]);
    assert.equal(outcome.reason, 'aborted');
    assert.equal(outcome.error, reason);
    assert.equal(outcome.durationMs, 100);
    assert.equal(clock.pending, 0);
    sandbox.finish({ ok: true, value: 'too late' });
    await tick();
    clock.advance(20_000);
    assert.equal(outcomes.length, 1);
  });

  it('after a timeout, the crash caused by the kill is ignored', async () => {
    const { clock, sandbox, outcomes } = setup({ timeoutMs: 1000 });
    clock.advance(1000);
    sandbox.finish({ ok: false, reason: 'crash', error: new Error('terminated') });
    await tick();
    assert.equal(outcomes.length, 1);
    assert.equal(failed(outcomes[0]).reason, 'timeout');
  });

  it('settles once: cancel after settling and repeated cancels are no-ops', async () => {
    const { clock, sandbox, outcomes, attempt } = setup({ timeoutMs: 1000 });
    sandbox.finish({ ok: true, value: 1 });
    await tick();
    attempt.cancel('memory', new Error('late'));
    attempt.cancel('aborted', new Error('late'));
    clock.advance(5000);
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.ok, true);

    const other = setup({ timeoutMs: 1000 });
    other.attempt.cancel('memory', new Error('over the limit'));
    other.attempt.cancel('aborted', new Error('second'));
    other.clock.advance(5000);
    assert.equal(other.outcomes.length, 1);
    assert.equal(failed(other.outcomes[0]).reason, 'memory');
  });

  it('onStarted after the attempt settled arms no heartbeat timer', () => {
    const { clock, sandbox, outcomes, attempt } = setup({ heartbeatTimeoutMs: 100 });
    attempt.cancel('aborted', new Error('x'));
    sandbox.started();
    assert.equal(clock.pending, 0);
    clock.advance(1000);
    assert.equal(outcomes.length, 1);
  });
});
