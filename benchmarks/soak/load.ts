// The soak's load generator: submissions to the TRIGGERED chaos workers at a steady rate, run() and
// triggerWorker() with payloads that carry a unique submission id and the modes of each attempt, a few
// run()s cancelled by their caller's signal, and storms that open breakers.
import type { WorkerOrchestrator as Orchestrator } from 'corral';
import { attemptReason, type Ledger, type Outcome, type Submission } from './accounting.ts';
import { errorCode, isRunError } from './util.ts';
import type { Mix, Spec } from './workers.ts';

export const STORM_EVERY_MS = 6000;
export const STORM_MS = 2500;
/** run()s whose caller aborts their signal after 30–600 ms. */
const CANCEL_SHARE = 0.04;
/** The rest of the submissions are run(). */
const TRIGGER_SHARE = 0.3;

type Pick = <T>(weighted: [T, number][], random: () => number) => T;

export class LoadGenerator {
  readonly #orch: Orchestrator;
  readonly #ledger: Ledger;
  readonly #targets: Spec[];
  /** The chaos workers: bulk ones are left out of storms, so that their volume is not refused. */
  readonly #stormTargets: Spec[];
  readonly #mix: [Spec, number][];
  readonly #random: () => number;
  readonly #pick: Pick;
  #nextSid = 1;
  #timer: NodeJS.Timeout | undefined;
  /** performance.now() when the load started. */
  startedAt = 0;

  /**
   * `random` and `pick` come from chaos.mjs, which main.ts imports once the environment the chaos workers
   * read at load (seed, tag) is set.
   */
  constructor(orch: Orchestrator, ledger: Ledger, specs: Spec[], random: () => number, pick: Pick) {
    this.#orch = orch;
    this.#ledger = ledger;
    this.#targets = specs.filter((s) => s.mix !== undefined);
    this.#stormTargets = this.#targets.filter((s) => s.bulk === undefined);
    this.#mix = this.#targets.map((s) => [s, s.share ?? 1]);
    this.#random = random;
    this.#pick = pick;
  }

  /** Submits `rate` times a second until stop(). */
  start(rate: number): void {
    this.startedAt = performance.now();
    const intervalMs = 1000 / rate;
    let due = performance.now();
    this.#timer = setInterval(
      () => {
        const now = performance.now();
        while (due <= now) {
          this.submit();
          due += intervalMs;
        }
      },
      Math.max(5, Math.floor(intervalMs / 2)),
    );
  }

  /** No more submissions, and no more cancellations by callers (any abort from now on is stop()'s). */
  stop(): void {
    clearInterval(this.#timer);
    for (const timer of this.#ledger.cancelTimers) clearTimeout(timer);
    this.#ledger.cancelTimers.clear();
  }

  /**
   * Storms: every STORM_EVERY_MS the next triggered chaos worker (round robin) fails for STORM_MS — every
   * attempt draws from its failing modes only — so that its breaker opens, cools down, fails its half-open
   * trial or passes it once the storm is over. Outside storms a retry succeeds half of the time.
   */
  #stormingWorker(elapsedMs: number): string | undefined {
    const slot = Math.floor(elapsedMs / STORM_EVERY_MS);
    if (slot === 0 || elapsedMs - slot * STORM_EVERY_MS > STORM_MS) return undefined;
    return this.#stormTargets[(slot - 1) % this.#stormTargets.length]?.name;
  }

  submit(): void {
    const spec = this.#pick(this.#mix, this.#random);
    const retries = spec.options.maxRetries ?? 3;
    const mix = spec.mix as Mix;
    const storm = this.#stormingWorker(performance.now() - this.startedAt) === spec.name;
    const failing = mix.filter(([mode]) => attemptReason(mode, spec) !== undefined);
    const modes: string[] = [this.#pick(storm ? failing : mix, this.#random)];
    for (let i = 0; i < retries; i++)
      modes.push(
        storm
          ? this.#pick(failing, this.#random)
          : this.#random() < 0.5
            ? 'ok'
            : this.#pick(mix, this.#random),
      );
    const sid = this.#nextSid++;
    const kind = this.#random() < TRIGGER_SHARE ? 'trigger' : 'run';
    const sub: Submission = {
      sid,
      kind,
      worker: spec.name,
      isolation: spec.isolation,
      modes,
      outcome: 'pending',
    };
    this.#ledger.add(sub);
    const okMs = spec.bulk?.okMs;
    const payload =
      okMs === undefined
        ? { sid, modes }
        : { sid, modes, ms: okMs[0] + Math.floor(this.#random() * (okMs[1] - okMs[0] + 1)) };
    const settled = (outcome: Outcome, detail?: string) => {
      if (sub.outcome !== 'pending') {
        this.#ledger.problem(
          `submission ${sid} (${spec.name}) settled twice: ${sub.outcome}, then ${outcome}`,
        );
        return;
      }
      sub.outcome = outcome;
      sub.settledAfterStop = this.#ledger.stopStarted;
      if (detail !== undefined) sub.detail = detail;
      this.#ledger.close(sub);
    };
    if (kind === 'trigger') {
      this.#orch.triggerWorker(spec.name, payload).then(
        (accepted) => {
          // Accepted: which end it had is read from the events at the end ('pending' until then).
          if (accepted) sub.detail = 'trigger-true';
          else settled('refused: disabled');
          if (accepted && sub.outcome === 'pending') sub.settledAfterStop = this.#ledger.stopStarted;
          // Its success or dead letter may have come first (an inline run ends within the turn).
          if (accepted) this.#ledger.closeTriggerIfEnded(sid);
        },
        (error: unknown) => {
          if (errorCode(error) === 'ERR_QUEUE_FULL') settled('refused: queue full');
          else settled('unexpected', `trigger rejected: ${String(error)}`);
        },
      );
      return;
    }
    let signal: AbortSignal | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (this.#random() < CANCEL_SHARE) {
      const controller = new AbortController();
      signal = controller.signal;
      timer = setTimeout(
        () => {
          this.#ledger.cancelTimers.delete(timer as NodeJS.Timeout);
          sub.cancelReason = new Error(`soak: caller cancelled submission ${sid}`);
          controller.abort(sub.cancelReason);
        },
        30 + Math.floor(this.#random() * 570),
      );
      this.#ledger.cancelTimers.add(timer);
    }
    this.#orch.run(spec.name, payload, signal === undefined ? {} : { signal }).then(
      (value) => {
        if (timer !== undefined) {
          clearTimeout(timer);
          this.#ledger.cancelTimers.delete(timer);
        }
        const got = (value as { sid?: unknown } | null)?.sid;
        if (got !== sid) settled('unexpected', `resolved with ${JSON.stringify(value)}`);
        else settled('succeeded');
      },
      (error: unknown) => {
        if (timer !== undefined) {
          clearTimeout(timer);
          this.#ledger.cancelTimers.delete(timer);
        }
        const code = errorCode(error);
        if (code === 'ERR_QUEUE_FULL') return settled('refused: queue full');
        if (code === 'ERR_WORKER_DISABLED') return settled('refused: disabled');
        if (!isRunError(error)) return settled('unexpected', `rejected with ${String(error)}`);
        sub.reason = error.reason;
        sub.attempts = error.attempts;
        if (error.worker !== spec.name)
          this.#ledger.problem(`RunError of ${sid} names worker ${error.worker}, not ${spec.name}`);
        if (error.reason !== 'aborted') return settled('dead-lettered');
        const cause = error.cause;
        if (sub.cancelReason !== undefined && cause === sub.cancelReason)
          return settled('cancelled by caller');
        // The caller's cancel timers are cleared before stop(): any other abort must come from stop().
        if (this.#ledger.stopStarted) return settled('aborted by stop');
        return settled('unexpected', `aborted before stop() with an unknown cause: ${String(cause)}`);
      },
    );
  }
}
