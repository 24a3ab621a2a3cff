import { type Clock, type Deadline, DeadlineList, type TimerHandle } from './clock.ts';
import { type FailureReason, toError } from './errors.ts';
import type { AttemptTask } from './isolation/protocol.ts';
import type { AttemptHooks, Sandbox, SandboxOutcome } from './isolation/sandbox.ts';

export type AttemptOutcome =
  | { ok: true; value: unknown; durationMs: number }
  | { ok: false; reason: FailureReason; error: Error; durationMs: number };

/** Reasons for which the supervisor ends an attempt itself, and must then kill its sandbox. */
export type KillReason = Extract<FailureReason, 'timeout' | 'stalled' | 'memory' | 'aborted'>;

export interface AttemptLimits {
  /** Per-attempt deadline; Infinity for none. It starts now, when the attempt is handed to its sandbox. */
  timeoutMs: number;
  /** Longest silence between heartbeats, counted from the call of the worker function; undefined: not watched. */
  heartbeatTimeoutMs: number | undefined;
}

/**
 * One attempt of a run in one sandbox, with its deadline and heartbeat watch. It settles exactly once:
 * with the sandbox's outcome, or earlier when the deadline passes, the heartbeat stops or the
 * supervisor cancels it — then the outcome is final at once and killing the sandbox is the caller's
 * next step (the caller never sees a `crash` caused by its own kill).
 */
export class Attempt implements AttemptHooks {
  readonly sandbox: Sandbox;
  readonly task: AttemptTask;
  readonly startedAt: number;
  readonly #clock: Clock;
  readonly #onEnd: (outcome: AttemptOutcome) => void;
  readonly #heartbeatTimeoutMs: number | undefined;
  readonly #timeoutMs: number;
  #deadline: Deadline | undefined;
  #heartbeatTimer: TimerHandle | undefined;
  #lastBeat = 0;
  #settled = false;

  constructor(
    sandbox: Sandbox,
    task: AttemptTask,
    limits: AttemptLimits,
    clock: Clock,
    onEnd: (outcome: AttemptOutcome) => void,
  ) {
    this.sandbox = sandbox;
    this.task = task;
    this.#clock = clock;
    this.#onEnd = onEnd;
    this.#heartbeatTimeoutMs = limits.heartbeatTimeoutMs;
    this.#timeoutMs = limits.timeoutMs;
    this.startedAt = clock.now();
  }

  /** Hands the attempt to its sandbox; the deadline starts now. */
  start(): void {
    // Cancelled before it was handed over (a worker:start listener): nothing to start, no deadline.
    if (this.#settled) return;
    const { task, sandbox } = this;
    if (Number.isFinite(this.#timeoutMs)) {
      // One list for every attempt on this clock: no timer set and cleared per attempt.
      this.#deadline = DeadlineList.of(this.#clock).add(this.#timeoutMs, () =>
        this.cancel('timeout', new Error(`attempt ${task.attempt} timed out after ${this.#timeoutMs} ms`)),
      );
    }
    let pending: Promise<SandboxOutcome>;
    try {
      pending = sandbox.run(task, this);
    } catch (error) {
      // E.g. a payload that cannot be cloned into the thread: fails this attempt, not the host.
      this.#settle({ ok: false, reason: 'error', error: toError(error), durationMs: 0 });
      return;
    }
    void pending.then((outcome) => {
      if (outcome.ok) this.#settle({ ok: true, value: outcome.value, durationMs: this.#elapsed() });
      else
        this.#settle({
          ok: false,
          reason: outcome.reason,
          error: outcome.error,
          durationMs: this.#elapsed(),
        });
    });
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Ends the attempt now with `reason`; the caller then kills the sandbox. No-op once settled. */
  cancel(reason: KillReason, error: Error): void {
    this.#settle({ ok: false, reason, error, durationMs: this.#elapsed() });
  }

  #elapsed(): number {
    return this.#clock.now() - this.startedAt;
  }

  /** The sandbox's hooks (the attempt is its own, so no object is made per attempt for them). */
  onStarted(): void {
    if (this.#heartbeatTimeoutMs === undefined || this.#settled) return;
    this.#lastBeat = this.#clock.now();
    this.#armHeartbeat(this.#heartbeatTimeoutMs);
  }

  onHeartbeat(): void {
    // Only remember the time: re-arming a timer on every beat would cost more than the beat.
    this.#lastBeat = this.#clock.now();
  }

  #armHeartbeat(ms: number): void {
    this.#heartbeatTimer = this.#clock.setTimeout(() => this.#checkHeartbeat(), ms);
  }

  #checkHeartbeat(): void {
    const limit = this.#heartbeatTimeoutMs as number;
    const silentFor = this.#clock.now() - this.#lastBeat;
    if (silentFor >= limit) {
      this.cancel('stalled', new Error(`no heartbeat for ${silentFor} ms (limit ${limit} ms)`));
    } else {
      this.#armHeartbeat(limit - silentFor);
    }
  }

  #settle(outcome: AttemptOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadline?.cancel();
    if (this.#heartbeatTimer !== undefined) this.#clock.clearTimeout(this.#heartbeatTimer);
    this.#onEnd(outcome);
  }
}
