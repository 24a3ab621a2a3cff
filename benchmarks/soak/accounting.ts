// The soak's accounting: every submission, attempt, dead letter and breaker transition the soak saw
// (from the promises of run() / triggerWorker() and from the events), what each submission's modes
// predict, and at the end the check that each submission is accounted for exactly once.
import type { FailureReason, WorkerOrchestrator as Orchestrator, StopReport } from 'corral';
import { inc } from './util.ts';
import type { Isolation, Spec } from './workers.ts';

export type Outcome =
  | 'pending'
  | 'succeeded'
  | 'dead-lettered'
  | 'refused: queue full'
  | 'refused: disabled'
  | 'cancelled by caller'
  | 'aborted by stop'
  | 'unexpected';

export interface Submission {
  sid: number;
  kind: 'run' | 'trigger';
  worker: string;
  isolation: Isolation;
  modes: string[];
  outcome: Outcome;
  reason?: FailureReason;
  attempts?: number;
  cancelReason?: Error;
  settledAfterStop?: boolean;
  detail?: string;
}

/** The counts every ended submission is folded into (see Ledger.close). */
export interface Tally {
  count: Map<Outcome, number>;
  byIsolation: Map<string, Map<Outcome, number>>;
  /** `${isolation}|${reason}` */
  deadByReason: Map<string, number>;
  predicted: number;
  mispredicted: Map<string, number>;
  mispredictedExample: Map<string, string>;
  /** Succeeded / dead-lettered submissions by worker, to compare with getStatus(). */
  byWorker: Map<string, { ok: number; failed: number }>;
}

/**
 * What the soak has seen so far. A submission whose end is known is checked and folded into `tally` at
 * once, and forgotten but for one bit (`closed`): 100,000 kept records would grow the host's heap by
 * some 25 MB over a run, which the RSS check would count as the library's.
 */
export class Ledger {
  /** Submissions not ended yet (and, after stop(), those whose end account() decides). */
  readonly subs = new Map<number, Submission>();
  submitted = 0;
  ended = 0;
  /** One byte per submission id: 1 once ended and folded into the tally. */
  #closed = new Uint8Array(1 << 16);
  readonly tally: Tally = {
    count: new Map(),
    byIsolation: new Map(),
    deadByReason: new Map(),
    predicted: 0,
    mispredicted: new Map(),
    mispredictedExample: new Map(),
    byWorker: new Map(),
  };
  readonly #specByName: Map<string, Spec>;
  readonly successBySid = new Map<number, number>();
  readonly deadBySid = new Map<
    number,
    { reason: FailureReason; attempts: number; count: number; error: string }
  >();
  readonly problems: string[] = [];
  /** `${isolation}|${reason}` */
  readonly attemptFailures = new Map<string, number>();
  /** Scheduled / continuous runs by worker. */
  readonly nonRequested = new Map<string, { ok: number; failed: number }>();
  readonly breakerOpened = new Map<string, number>();
  readonly breakerClosed = new Map<string, number>();
  readonly inFlight = new Set<string>();
  readonly inFlightByWorker = new Map<string, number>();
  maxInFlight = 0;
  readonly maxInFlightByWorker = new Map<string, number>();
  stopStarted = false;
  readonly cancelTimers = new Set<NodeJS.Timeout>();

  constructor(specs: Spec[]) {
    this.#specByName = new Map(specs.map((spec) => [spec.name, spec]));
  }

  problem(text: string): void {
    this.problems.push(text);
  }

  add(sub: Submission): void {
    this.subs.set(sub.sid, sub);
    this.submitted++;
  }

  isClosed(sid: number): boolean {
    return sid < this.#closed.length && this.#closed[sid] === 1;
  }

  /** The submission has ended (its outcome is set): check it, count it, forget it. */
  close(sub: Submission): void {
    if (this.isClosed(sub.sid)) return;
    checkSubmission(this, sub, this.#specByName.get(sub.worker) as Spec);
    if (sub.sid >= this.#closed.length) {
      const grown = new Uint8Array(Math.max(this.#closed.length * 2, sub.sid + 1));
      grown.set(this.#closed);
      this.#closed = grown;
    }
    this.#closed[sub.sid] = 1;
    this.subs.delete(sub.sid);
    this.successBySid.delete(sub.sid);
    this.deadBySid.delete(sub.sid);
    this.ended++;
  }

  /** An accepted trigger ends with its success or dead letter (its promise only says it was accepted). */
  closeTriggerIfEnded(sid: number): void {
    const sub = this.subs.get(sid);
    if (sub === undefined || sub.kind !== 'trigger' || sub.detail !== 'trigger-true') return;
    if (sub.outcome !== 'pending') return;
    const ok = this.successBySid.get(sid) ?? 0;
    const dead = this.deadBySid.get(sid);
    if (ok === 1 && dead === undefined) sub.outcome = 'succeeded';
    else if (ok === 0 && dead !== undefined) {
      sub.outcome = 'dead-lettered';
      sub.reason = dead.reason;
      sub.attempts = dead.attempts;
    } else if (ok !== 0 || dead !== undefined) sub.outcome = 'unexpected';
    else return;
    sub.settledAfterStop = this.stopStarted;
    this.close(sub);
  }
}

/** The checks of one ended submission against the events seen for it, and its counts. */
function checkSubmission(ledger: Ledger, sub: Submission, spec: Spec): void {
  const t = ledger.tally;
  inc(t.count, sub.outcome);
  const row = t.byIsolation.get(sub.isolation) ?? new Map<Outcome, number>();
  inc(row, sub.outcome);
  t.byIsolation.set(sub.isolation, row);
  const ok = ledger.successBySid.get(sub.sid) ?? 0;
  const dead = ledger.deadBySid.get(sub.sid);
  const tag = `submission ${sub.sid} (${sub.kind} ${sub.worker} ${sub.modes.join(',')})`;
  if (dead !== undefined && dead.count > 1) ledger.problem(`${tag}: ${dead.count} dead letters`);
  if (ok > 1) ledger.problem(`${tag}: ${ok} success events`);
  switch (sub.outcome) {
    case 'pending':
      ledger.problem(`${tag}: still pending after stop() resolved`);
      break;
    case 'unexpected':
      ledger.problem(
        `${tag}: unexpected end: ${sub.detail ?? `success events ${ok}, dead letters ${dead?.count ?? 0}`}`,
      );
      break;
    case 'succeeded':
      if (ok !== 1 || dead !== undefined)
        ledger.problem(`${tag}: resolved, but ${ok} success events and ${dead?.count ?? 0} dead letters`);
      break;
    case 'dead-lettered':
      if (dead === undefined)
        ledger.problem(`${tag}: rejected (${sub.reason}, ${sub.attempts} attempts) without a dead letter`);
      else if (dead.reason !== sub.reason || dead.attempts !== sub.attempts)
        ledger.problem(
          `${tag}: RunError ${sub.reason}/${sub.attempts} but dead letter ${dead.reason}/${dead.attempts}`,
        );
      if (ok !== 0) ledger.problem(`${tag}: dead-lettered and a success event`);
      inc(t.deadByReason, `${sub.isolation}|${sub.reason}`);
      break;
    default:
      // refused, cancelled, aborted: no attempt may have succeeded or been dead-lettered
      if (ok !== 0 || dead !== undefined)
        ledger.problem(
          `${tag}: ${sub.outcome}, yet ${ok} success events and ${dead?.count ?? 0} dead letters`,
        );
      if (sub.outcome === 'aborted by stop' && !sub.settledAfterStop)
        ledger.problem(`${tag}: aborted by stop before stop()`);
      if (sub.outcome.startsWith('refused') && sub.settledAfterStop)
        ledger.problem(`${tag}: refused after stop() began`);
  }
  if (sub.outcome === 'succeeded' || sub.outcome === 'dead-lettered') {
    const mine = t.byWorker.get(sub.worker) ?? { ok: 0, failed: 0 };
    if (sub.outcome === 'succeeded') mine.ok++;
    else mine.failed++;
    t.byWorker.set(sub.worker, mine);
    const expected = predict(sub.modes, spec);
    const got = sub.outcome === 'succeeded' ? 'ok' : `${sub.reason}`;
    const want = expected.ok ? 'ok' : expected.reason;
    if (got === want) t.predicted++;
    else {
      const key = `${sub.worker}: ${sub.modes.join(',')} expected ${want}, got ${got}`;
      inc(t.mispredicted, key);
      if (dead !== undefined && !t.mispredictedExample.has(key)) t.mispredictedExample.set(key, dead.error);
    }
  }
  if (sub.outcome === 'dead-lettered' && (sub.attempts ?? 0) > (spec.options.maxRetries ?? 3) + 1) {
    ledger.problem(`${tag}: ${sub.attempts} attempts, more than maxRetries + 1`);
  }
}

/** The reason one attempt in `mode` must fail with on worker `spec` (undefined: it succeeds). */
export function attemptReason(mode: string, spec: Spec): FailureReason | undefined {
  const { heartbeatTimeoutSeconds: hb, timeoutSeconds = 60 } = spec.options;
  const silent: FailureReason = hb !== undefined && hb < timeoutSeconds ? 'stalled' : 'timeout';
  switch (mode) {
    case 'ok':
    case 'slow':
      return undefined;
    case 'throw':
    case 'fatal':
    case 'async-throw':
      return 'error';
    case 'exit':
    case 'uncaught':
      return 'crash';
    case 'leak-heap':
    case 'leak-rss':
      return 'memory';
    case 'no-heartbeat':
      return hb !== undefined ? 'stalled' : 'timeout';
    default: // hang, hang-async, hang-ignore, ignore-sigterm, spawn-grandchild
      return silent;
  }
}

export type Prediction =
  | { ok: true; attempts: number }
  | { ok: false; reason: FailureReason; attempts: number };

export function predict(modes: string[], spec: Spec): Prediction {
  const last = spec.options.maxRetries ?? 3;
  for (let i = 0; ; i++) {
    const mode = modes[i] ?? 'ok';
    const reason = attemptReason(mode, spec);
    if (reason === undefined) return { ok: true, attempts: i + 1 };
    if (mode === 'fatal' || i >= last) return { ok: false, reason, attempts: i + 1 };
  }
}

/**
 * Follows the orchestrator's events into the ledger. `inject` 'lost-dead-letter' drops one dead letter in
 * 20 (neither recorded nor removed), a fault the accounting must catch.
 */
export function watch(orch: Orchestrator, ledger: Ledger, specs: Spec[], inject: string | undefined): void {
  const specByName = new Map(specs.map((s) => [s.name, s]));
  const triggeredNames = new Set(specs.filter((s) => s.mix !== undefined).map((s) => s.name));
  orch.on('worker:start', ({ name, runId, attempt }) => {
    const key = `${runId}/${attempt}`;
    if (ledger.inFlight.has(key)) ledger.problem(`worker:start twice for ${name} ${key}`);
    ledger.inFlight.add(key);
    ledger.maxInFlight = Math.max(ledger.maxInFlight, ledger.inFlight.size);
    inc(ledger.inFlightByWorker, name);
    ledger.maxInFlightByWorker.set(
      name,
      Math.max(ledger.maxInFlightByWorker.get(name) ?? 0, ledger.inFlightByWorker.get(name) ?? 0),
    );
  });
  const attemptEnded = (name: string, runId: string, attempt: number) => {
    if (ledger.inFlight.delete(`${runId}/${attempt}`)) inc(ledger.inFlightByWorker, name, -1);
  };
  orch.on('worker:success', ({ name, runId, attempt, result }) => {
    attemptEnded(name, runId, attempt);
    const sid = (result as { sid?: unknown } | null)?.sid;
    if (typeof sid === 'number') {
      if (ledger.isClosed(sid))
        ledger.problem(`success event of ${name} for submission ${sid}, which had ended`);
      else {
        inc(ledger.successBySid, sid);
        ledger.closeTriggerIfEnded(sid);
      }
    } else if (triggeredNames.has(name))
      ledger.problem(`success of ${name} without a submission id: ${JSON.stringify(result)}`);
    else {
      const entry = ledger.nonRequested.get(name) ?? { ok: 0, failed: 0 };
      entry.ok++;
      ledger.nonRequested.set(name, entry);
    }
  });
  orch.on('worker:failure', ({ name, runId, attempt, reason, willRetry }) => {
    attemptEnded(name, runId, attempt);
    const spec = specByName.get(name);
    inc(ledger.attemptFailures, `${spec?.isolation}|${reason}`);
    if (!willRetry && !triggeredNames.has(name) && reason !== 'aborted') {
      const entry = ledger.nonRequested.get(name) ?? { ok: 0, failed: 0 };
      entry.failed++;
      ledger.nonRequested.set(name, entry);
    }
  });
  let deadLetterEvents = 0;
  orch.on('worker:dead-letter', ({ name, entry }) => {
    // Injected fault: one dead letter in 20 is "lost" (neither recorded nor removed).
    if (inject === 'lost-dead-letter' && ++deadLetterEvents % 20 === 0) return;
    const sid = (entry.payload as { sid?: unknown } | undefined)?.sid;
    if (typeof sid !== 'number') {
      ledger.problem(
        `dead letter ${entry.id} of ${name} (${entry.reason}) without a submission id: a scheduled/continuous run?`,
      );
    } else if (ledger.isClosed(sid)) {
      ledger.problem(`dead letter ${entry.id} of ${name} for submission ${sid}, which had ended`);
    } else {
      const seen = ledger.deadBySid.get(sid);
      if (seen) seen.count++;
      else
        ledger.deadBySid.set(sid, {
          reason: entry.reason,
          attempts: entry.attempts,
          count: 1,
          error: entry.error,
        });
      ledger.closeTriggerIfEnded(sid);
    }
    // Accounted for: drop it, as a consumer of the queue would (and so the host's memory stays flat).
    if (!orch.deadLetters.remove(entry.id)) ledger.problem(`dead letter ${entry.id} could not be removed`);
  });
  orch.on('worker:disabled', ({ name }) => inc(ledger.breakerOpened, name));
  orch.on('worker:enabled', ({ name }) => inc(ledger.breakerClosed, name));
}

/** The end of each submission, counted: what the checks and the report are made of. */
export interface Accounting extends Tally {
  accountedSum: number;
  terminatedTriggered: number;
  stopFigure: number;
}

/**
 * After stop(): settles what is left (accepted triggers that neither succeeded nor were dead-lettered:
 * aborted by stop), checks it like the rest, and compares the totals with getStatus().
 */
export function account(orch: Orchestrator, ledger: Ledger, specs: Spec[], report: StopReport): Accounting {
  const triggeredNames = new Set(specs.filter((s) => s.mix !== undefined).map((s) => s.name));
  for (const sub of [...ledger.subs.values()]) {
    if (sub.kind === 'trigger' && sub.detail === 'trigger-true' && sub.outcome === 'pending') {
      ledger.closeTriggerIfEnded(sub.sid);
      // Ended without success or dead letter: only stop() may do that (no signal is given to triggers).
      if (sub.outcome === 'pending') sub.outcome = ledger.stopStarted ? 'aborted by stop' : 'unexpected';
    }
    ledger.close(sub);
  }
  for (const sid of ledger.successBySid.keys()) ledger.problem(`success event for unknown submission ${sid}`);
  for (const sid of ledger.deadBySid.keys()) ledger.problem(`dead letter for unknown submission ${sid}`);
  const { count, byWorker } = ledger.tally;
  // getStatus() totals must agree with what the promises and events said, worker by worker.
  const finalStatus = orch.getStatus();
  for (const spec of specs) {
    const totals = finalStatus.workerStates[spec.name]?.totals;
    const { ok, failed } = (triggeredNames.has(spec.name)
      ? byWorker.get(spec.name)
      : ledger.nonRequested.get(spec.name)) ?? { ok: 0, failed: 0 };
    if (totals?.succeeded !== ok || totals?.failed !== failed) {
      ledger.problem(
        `${spec.name}: getStatus() totals succeeded ${totals?.succeeded} / failed ${totals?.failed}, ` +
          `but the soak saw ${ok} / ${failed}`,
      );
    }
  }
  const deadLeft = orch.deadLetters.list();
  if (deadLeft.length > 0)
    ledger.problem(`${deadLeft.length} dead letters never announced by worker:dead-letter`);

  const n = (o: Outcome) => count.get(o) ?? 0;
  const accountedSum =
    n('succeeded') +
    n('dead-lettered') +
    n('refused: queue full') +
    n('refused: disabled') +
    n('cancelled by caller') +
    n('aborted by stop');
  const terminatedTriggered = report.terminated.filter((name) => triggeredNames.has(name)).length;
  const stopFigure = report.dropped + terminatedTriggered;
  return {
    ...ledger.tally,
    accountedSum,
    terminatedTriggered,
    stopFigure,
  };
}
