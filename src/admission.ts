import { serialize } from 'node:v8';
import type { Clock } from './clock.ts';
import { OrchestratorError, RunError, toError } from './errors.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import { newRun, type Run, type RunOrigin, type RunOutcome } from './run.ts';
import type { Sequence } from './sequence.ts';
import type { StoredRun } from './store/store.ts';
import type { WorkerRecord } from './worker-record.ts';

export interface AdmissionContext {
  clock: Clock;
  sequence: Sequence;
  queue: WorkQueue;
  state(): 'stopped' | 'running' | 'stopping';
  worker(name: string): WorkerRecord | undefined;
  /** The payload as a durable store keeps it (undefined without one); throws ERR_STORE if it cannot. */
  encode(payload: unknown): Buffer | undefined;
  maxPayloadBytes: number;
  /** Cancels a run wherever it is (its caller's signal fired). */
  abort(run: Run, error: Error): void;
  dispatch(): void;
}

/** How a caller asks for a run. */
export interface RequestOptions {
  signal?: AbortSignal | undefined;
  key?: string | undefined;
  /** The dead letter this run replays. */
  replayOf?: string | undefined;
}

/**
 * The way in for every run: checks a request (worker known and enabled, orchestrator running, payload
 * within `maxPayloadBytes` and keepable by the store, `maxQueue`), joins a run with the same `key`,
 * wires the caller's signal, and queues. Owns the idempotency keys of runs still queued or running.
 */
export class Admission {
  readonly #ctx: AdmissionContext;
  /** Runs that have an idempotency key, by worker and key, while they are queued or running. */
  readonly #keyed = new Map<string, Run>();
  /** Run ids are this prefix and a sequence number: unique, and cheaper than a UUID per run. */
  readonly #idPrefix = `${crypto.randomUUID().slice(0, 8)}-`;

  constructor(context: AdmissionContext) {
    this.#ctx = context;
  }

  /** `run()`, `replay()`: settles with the outcome, or rejects with why the run was refused. */
  request(
    name: string,
    origin: RunOrigin,
    payload: unknown,
    options: RequestOptions = NO_OPTIONS,
  ): Promise<unknown> {
    const { signal, key } = options;
    const worker = this.#ctx.worker(name);
    const refused = this.#refusal(name, worker);
    if (refused !== undefined) return Promise.reject(refused);
    if (signal?.aborted) return Promise.reject(new RunError(name, 'aborted', 0, signal.reason));
    return new Promise((resolve, reject) => {
      const settle = (outcome: RunOutcome) => {
        if (outcome.ok) resolve(outcome.value);
        else reject(new RunError(name, outcome.reason, outcome.attempts, outcome.error));
      };
      const joinable = key === undefined ? undefined : this.#keyed.get(keyOf(name, key));
      if (joinable !== undefined) {
        this.#join(joinable, settle, reject, signal);
        return;
      }
      const run = this.#admit(worker as WorkerRecord, origin, payload, { settle, refuse: reject }, options);
      if (run instanceof OrchestratorError) reject(run);
    });
  }

  /** `triggerWorker()`: resolves true once the run ended, false at once if it cannot be queued. */
  trigger(name: string, payload: unknown): Promise<boolean> {
    const worker = this.#ctx.worker(name);
    if (worker === undefined || !worker.enabled || this.#ctx.state() !== 'running') {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve, reject) => {
      const caller = { settle: () => resolve(true), refuse: reject };
      const run = this.#admit(worker, 'trigger', payload, caller, NO_OPTIONS);
      if (run instanceof OrchestratorError) reject(run);
    });
  }

  /** A run of the worker's own (schedule, loop, pipeline). */
  enqueue(worker: WorkerRecord, origin: RunOrigin): Run {
    const run = this.#newOwn(worker, origin, undefined);
    this.#ctx.queue.add(run);
    return run;
  }

  /** A run taken back from the durable store at start, queued again with its id, key and attempts. */
  requeue(worker: WorkerRecord, restored: StoredRun): Run {
    const run = this.#newOwn(worker, restored.origin, restored);
    this.#ctx.queue.addRestored(run);
    return run;
  }

  /**
   * The queue found out after the call that the run cannot be queued (cluster mode: the cluster's
   * `maxQueue`, Redis refusing): its caller's promise rejects with `error`.
   */
  refused(run: Run, error: Error): void {
    if (run.state === 'done') return;
    run.state = 'done';
    run.detachSignal?.();
    this.forget(run);
    run.refuse?.(error);
  }

  /** The run is over (or refused): a later call with its key starts a new run. */
  forget(run: Run): void {
    if (run.key === undefined) return;
    const id = keyOf(run.worker.name, run.key);
    if (this.#keyed.get(id) === run) this.#keyed.delete(id);
  }

  #refusal(name: string, worker: WorkerRecord | undefined): OrchestratorError | undefined {
    if (worker === undefined) return new OrchestratorError('ERR_UNKNOWN_WORKER', `no worker named "${name}"`);
    const state = this.#ctx.state();
    if (state !== 'running') return new OrchestratorError('ERR_NOT_RUNNING', `the orchestrator is ${state}`);
    if (!worker.enabled) {
      const why = worker.breaker.state === 'open' ? 'its circuit breaker is open' : 'it is disabled';
      return new OrchestratorError('ERR_WORKER_DISABLED', `worker "${name}" cannot run: ${why}`);
    }
    return undefined;
  }

  /**
   * The payload as a durable store keeps it (serialised once, here, so that a payload the store cannot
   * keep is refused at the call), or ERR_STORE / ERR_PAYLOAD_TOO_LARGE. Its size is that of the
   * encoding when there is one, so a stored payload is serialised once, not twice.
   */
  #encode(name: string, payload: unknown): Buffer | undefined | OrchestratorError {
    let encoded: Buffer | undefined;
    try {
      encoded = this.#ctx.encode(payload);
    } catch (error) {
      return error as OrchestratorError;
    }
    const max = this.#ctx.maxPayloadBytes;
    const size = encoded === undefined ? payloadSize(payload, max) : encoded.byteLength;
    if (size <= max) return encoded;
    return new OrchestratorError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the payload of a run of "${name}" is ${size} bytes, more than maxPayloadBytes (${this.#ctx.maxPayloadBytes})`,
    );
  }

  /** Same key, still queued or running: this caller gets that run's outcome. */
  #join(
    run: Run,
    settle: (outcome: RunOutcome) => void,
    reject: (error: Error) => void,
    signal: AbortSignal | undefined,
  ): void {
    const joined = run.joined ?? [];
    run.joined = joined;
    joined.push(settle);
    // The caller's own signal only withdraws this caller; the run goes on for the others.
    signal?.addEventListener(
      'abort',
      () => {
        const i = joined.indexOf(settle);
        if (i === -1) return;
        joined.splice(i, 1);
        reject(new RunError(run.worker.name, 'aborted', 0, signal.reason));
      },
      { once: true },
    );
  }

  /**
   * Queues a requested run (listening to its signal before anything can start it) and dispatches;
   * returns ERR_QUEUE_FULL instead when the run would wait beyond the worker's `maxQueue`.
   */
  #admit(
    worker: WorkerRecord,
    origin: RunOrigin,
    payload: unknown,
    caller: Caller,
    options: RequestOptions,
  ): Run | OrchestratorError {
    const encodedPayload = this.#encode(worker.name, payload);
    if (encodedPayload instanceof OrchestratorError) return encodedPayload;
    const { queue } = this.#ctx;
    const run = this.#newRequest(worker, origin, payload, caller, options);
    queue.add(run, encodedPayload);
    const { signal } = options;
    if (signal !== undefined) {
      const onAbort = () =>
        this.#ctx.abort(run, toError(signal.reason, 'the run was cancelled by its signal'));
      signal.addEventListener('abort', onAbort, { once: true });
      run.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    this.#ctx.dispatch();
    // maxQueue bounds runs that wait: checked after dispatch, so that a run that can start at once
    // (even with maxQueue 0) does. Known limit: called from inside an event listener, the dispatch is
    // deferred (never re-entered), so with maxQueue 0 such a call is refused even when a slot is free.
    if (run.queued && queue.waitingRequests(worker) > worker.options.maxQueue) {
      queue.withdraw(run);
      queue.settle(run);
      run.state = 'done';
      run.detachSignal?.();
      this.forget(run);
      return new OrchestratorError(
        'ERR_QUEUE_FULL',
        `worker "${worker.name}" already has ${worker.options.maxQueue} queued run(s) (maxQueue)`,
      );
    }
    return run;
  }

  /** A requested run put together, its key registered; the caller queues it. */
  #newRequest(
    worker: WorkerRecord,
    origin: RunOrigin,
    payload: unknown,
    caller: Caller,
    request: RequestOptions,
  ): Run {
    const seq = this.#ctx.sequence.next();
    const now = this.#ctx.clock.now();
    return this.#keep(
      newRun({
        id: this.#id(seq),
        worker,
        payload,
        origin,
        seq,
        startedAt: now,
        enqueuedAt: now,
        replayOf: request.replayOf,
        settle: caller.settle,
        refuse: caller.refuse,
        key: request.key,
      }),
    );
  }

  /** A run of the worker's own, or one taken back from the store (with its id, key and attempts). */
  #newOwn(worker: WorkerRecord, origin: RunOrigin, restored: StoredRun | undefined): Run {
    const seq = this.#ctx.sequence.next();
    const now = this.#ctx.clock.now();
    if (restored === undefined) {
      return newRun({
        id: this.#id(seq),
        worker,
        payload: undefined,
        origin,
        seq,
        startedAt: now,
        enqueuedAt: now,
      });
    }
    return this.#keep(
      newRun({
        id: restored.id,
        worker,
        payload: restored.payload,
        origin,
        seq,
        startedAt: now,
        enqueuedAt: restored.enqueuedAt,
        attempt: restored.attempts,
        replayOf: restored.replayOf,
        key: restored.key,
      }),
    );
  }

  #id(seq: number): string {
    return `${this.#idPrefix}${seq.toString(36)}`;
  }

  /** Registers the run's idempotency key while it is queued or running. */
  #keep(run: Run): Run {
    if (run.key !== undefined) this.#keyed.set(keyOf(run.worker.name, run.key), run);
    return run;
  }
}

const NO_OPTIONS: RequestOptions = Object.freeze({});

/** Who asked for a run: told its outcome, or that it could not be queued after all (cluster mode). */
interface Caller {
  settle: (outcome: RunOutcome) => void;
  refuse: (error: Error) => void;
}

function keyOf(worker: string, key: string): string {
  return `${worker}\u0000${key}`;
}

/**
 * Bytes the payload takes as a structured clone (what a thread, a process or a store is handed), or
 * at least a lower bound of them past `max`. Strings are measured without serialising.
 */
function payloadSize(payload: unknown, max: number): number {
  if (payload === undefined || payload === null) return 0;
  if (typeof payload === 'string') {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only a long string needs counting.
    return payload.length * 3 <= max ? payload.length : Buffer.byteLength(payload);
  }
  if (typeof payload !== 'object') return 16;
  try {
    return serialize(payload).byteLength;
  } catch {
    // Cannot be cloned at all: the sandbox (or the store) refuses it with its own reason.
    return 0;
  }
}
