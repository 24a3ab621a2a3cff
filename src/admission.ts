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
  request(name: string, origin: RunOrigin, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    const { signal, key } = options;
    const worker = this.#ctx.worker(name);
    const refused = this.#refusal(name, worker, payload);
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
      const run = this.#admit(worker as WorkerRecord, origin, payload, settle, {
        ...options,
        refuse: reject,
      });
      if (run instanceof OrchestratorError) reject(run);
    });
  }

  /** `triggerWorker()`: resolves true once the run ended, false at once if it cannot be queued. */
  trigger(name: string, payload: unknown): Promise<boolean> {
    const worker = this.#ctx.worker(name);
    if (worker === undefined || !worker.enabled || this.#ctx.state() !== 'running') {
      return Promise.resolve(false);
    }
    const tooLarge = this.#payloadRefusal(name, payload);
    if (tooLarge !== undefined) return Promise.reject(tooLarge);
    return new Promise<boolean>((resolve, reject) => {
      const run = this.#admit(worker, 'trigger', payload, () => resolve(true), { refuse: reject });
      if (run instanceof OrchestratorError) reject(run);
    });
  }

  /** A run of the worker's own (schedule, loop, pipeline), or one taken back from the store. */
  enqueue(worker: WorkerRecord, origin: RunOrigin, restored?: StoredRun): Run {
    return this.#enqueue(worker, origin, undefined, { restored });
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

  #refusal(name: string, worker: WorkerRecord | undefined, payload: unknown): OrchestratorError | undefined {
    if (worker === undefined) return new OrchestratorError('ERR_UNKNOWN_WORKER', `no worker named "${name}"`);
    const state = this.#ctx.state();
    if (state !== 'running') return new OrchestratorError('ERR_NOT_RUNNING', `the orchestrator is ${state}`);
    if (!worker.enabled) {
      const why = worker.breaker.state === 'open' ? 'its circuit breaker is open' : 'it is disabled';
      return new OrchestratorError('ERR_WORKER_DISABLED', `worker "${name}" cannot run: ${why}`);
    }
    return this.#payloadRefusal(name, payload);
  }

  #payloadRefusal(name: string, payload: unknown): OrchestratorError | undefined {
    const size = payloadSize(payload, this.#ctx.maxPayloadBytes);
    if (size <= this.#ctx.maxPayloadBytes) return undefined;
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
    settle: (outcome: RunOutcome) => void,
    options: RequestOptions & { refuse?: (error: Error) => void },
  ): Run | OrchestratorError {
    let encodedPayload: Buffer | undefined;
    try {
      encodedPayload = this.#ctx.encode(payload);
    } catch (error) {
      return error as OrchestratorError;
    }
    const run = this.#enqueue(worker, origin, payload, { ...options, settle, encodedPayload });
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
    const { queue } = this.#ctx;
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

  #enqueue(
    worker: WorkerRecord,
    origin: RunOrigin,
    payload: unknown,
    options: RequestOptions & {
      settle?: (outcome: RunOutcome) => void;
      refuse?: (error: Error) => void;
      restored?: StoredRun | undefined;
      encodedPayload?: Buffer | undefined;
    },
  ): Run {
    const { restored, key } = options;
    const seq = this.#ctx.sequence.next();
    const now = this.#ctx.clock.now();
    const run = newRun({
      id: restored?.id ?? `${this.#idPrefix}${seq.toString(36)}`,
      worker,
      payload: restored === undefined ? payload : restored.payload,
      origin,
      seq,
      startedAt: now,
      enqueuedAt: restored?.enqueuedAt ?? now,
      attempt: restored?.attempts ?? 0,
      replayOf: restored === undefined ? options.replayOf : restored.replayOf,
      settle: options.settle,
      refuse: options.refuse,
      key: restored === undefined ? key : restored.key,
    });
    if (run.key !== undefined) this.#keyed.set(keyOf(worker.name, run.key), run);
    this.#ctx.queue.add(run, { encodedPayload: options.encodedPayload, restored: restored !== undefined });
    return run;
  }
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
