import type { Logger } from 'pino';
import type { Clock, TimerHandle } from './clock.ts';
import type { Emit } from './events.ts';
import type { Run, RunOutcome } from './run.ts';
import type { WorkerRecord } from './worker-record.ts';

export interface BreakerContext {
  clock: Clock;
  log: Logger;
  emit: Emit;
  running(): boolean;
  /** The worker's schedule: cancelled while open, a trial scheduled when half-open. */
  cancelSchedule(worker: WorkerRecord): void;
  /** Half-open: the worker's next run is the trial; gets it going (a due time, a loop, a pipeline). */
  trialDue(worker: WorkerRecord): void;
  /** Its waiting runs may start now: another look, then a dispatch. */
  wake(worker: WorkerRecord): void;
  save(worker: WorkerRecord): void;
  /** Cluster mode: Redis's clock counts cooldowns and one host moves the breaker to half-open. */
  cooldownElsewhere?: boolean;
}

/**
 * What the breakers do (the state machine itself is breaker.ts): counts each run's outcome, marks the
 * half-open trial, opens — disabling the worker and arming its cooldown — and closes again on a
 * successful trial or `enableWorker()`. The one place where the breaker is decided.
 */
export class BreakerController {
  readonly #ctx: BreakerContext;
  readonly #cooldowns = new Map<WorkerRecord, TimerHandle>();

  constructor(context: BreakerContext) {
    this.#ctx = context;
  }

  /** A run starts: it is the worker's half-open trial or not. */
  runStarts(run: Run): void {
    run.isTrial = run.worker.breaker.onRunStart();
  }

  /** A run ended with `outcome` (only the half-open trial moves a breaker that is not closed). */
  runEnded(run: Run, outcome: RunOutcome): void {
    const { worker } = run;
    const breaker = worker.breaker;
    if (outcome.ok) {
      if (breaker.onSuccess(run.isTrial)) {
        this.#clearCooldown(worker);
        worker.cooldownUntil = undefined;
        this.#ctx.log.info({ worker: worker.name }, 'half-open trial succeeded: breaker closed');
        this.#ctx.emit('worker:enabled', { name: worker.name });
      }
    } else if (outcome.reason === 'aborted') {
      breaker.onAborted(run.isTrial);
    } else if (breaker.onFailure(run.isTrial)) {
      this.#opened(worker);
    }
  }

  /** `enableWorker()`: closed, failures forgotten, no trial pending. */
  reset(worker: WorkerRecord): void {
    worker.breaker.reset();
    this.#clearCooldown(worker);
    worker.cooldownUntil = undefined;
  }

  /**
   * At start: an open breaker with a cooldown always has a trial coming (also one that was half-open
   * when the host stopped or died: its trial is due at once).
   */
  resume(worker: WorkerRecord): void {
    if (worker.breaker.state !== 'open' || worker.breaker.cooldownMs === null) return;
    if (this.#ctx.cooldownElsewhere === true) return;
    worker.cooldownUntil ??= this.#ctx.clock.now();
    this.#armCooldown(worker);
  }

  /** At stop: no trial fires while stopped; `cooldownUntil` is kept for the next start. */
  suspend(): void {
    for (const worker of [...this.#cooldowns.keys()]) this.#clearCooldown(worker);
  }

  #opened(worker: WorkerRecord): void {
    const consecutiveFailures = worker.breaker.consecutiveFailures;
    this.#ctx.cancelSchedule(worker);
    this.#ctx.log.warn(
      { worker: worker.name, consecutiveFailures },
      'circuit breaker opened: worker disabled',
    );
    this.#ctx.emit('worker:disabled', { name: worker.name, consecutiveFailures });
    const cooldownMs = worker.breaker.cooldownMs;
    if (cooldownMs === null || this.#ctx.cooldownElsewhere === true) return;
    worker.cooldownUntil = this.#ctx.clock.now() + cooldownMs;
    // While stopping, the cooldown is only remembered; the next start() arms it.
    if (this.#ctx.running()) this.#armCooldown(worker);
  }

  /** Arms the half-open trial of an open breaker for `cooldownUntil`. */
  #armCooldown(worker: WorkerRecord): void {
    const { clock } = this.#ctx;
    this.#clearCooldown(worker);
    const until = worker.cooldownUntil ?? clock.now();
    const timer = clock.setTimeout(
      () => {
        this.#cooldowns.delete(worker);
        if (!this.#ctx.running()) return;
        worker.cooldownUntil = undefined;
        worker.breaker.halfOpen();
        this.#ctx.save(worker);
        this.#ctx.log.info({ worker: worker.name }, 'breaker half-open: next run is the trial');
        this.#ctx.trialDue(worker);
        this.#ctx.wake(worker);
      },
      Math.max(0, until - clock.now()),
    );
    this.#cooldowns.set(worker, timer);
  }

  #clearCooldown(worker: WorkerRecord): void {
    const timer = this.#cooldowns.get(worker);
    if (timer === undefined) return;
    this.#ctx.clock.clearTimeout(timer);
    this.#cooldowns.delete(worker);
  }
}
