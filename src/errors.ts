/** Stable codes of {@link OrchestratorError}: misuse of the API, refused at once. */
export type OrchestratorErrorCode =
  | 'ERR_DUPLICATE_WORKER'
  | 'ERR_UNKNOWN_WORKER'
  | 'ERR_INVALID_OPTION'
  | 'ERR_UNKNOWN_DEPENDENCY'
  | 'ERR_DEPENDENCY_CYCLE'
  | 'ERR_MODULE_NOT_FOUND'
  | 'ERR_NOT_RUNNING'
  | 'ERR_QUEUE_FULL'
  | 'ERR_WORKER_DISABLED'
  | 'ERR_UNKNOWN_DEAD_LETTER'
  | 'ERR_STORE'
  | 'ERR_PAYLOAD_TOO_LARGE';

/**
 * Why a run failed.
 * - `error`: the worker threw or rejected.
 * - `timeout`: it outran `timeoutSeconds` and was terminated.
 * - `crash`: its thread or process exited on its own.
 * - `memory`: it passed `memoryLimitMb`.
 * - `stalled`: it stopped calling `ctx.heartbeat()`.
 * - `aborted`: `stop()` or the caller's signal ended it.
 * - `load`: its module failed to load (never retried).
 */
export type FailureReason = 'error' | 'timeout' | 'crash' | 'memory' | 'stalled' | 'aborted' | 'load';

/**
 * Brands that make `instanceof` hold across two installed copies of corral (an app and a plugin
 * each with their own): `Symbol.for` gives both copies the same symbol, and each class checks it
 * in `static [Symbol.hasInstance]` instead of its own prototype (as undici's errors do).
 */
const ORCHESTRATOR_ERROR = Symbol.for('corral.OrchestratorError');
const RUN_ERROR = Symbol.for('corral.RunError');

/** Whether `value` carries `brand`; a subclass of the branded class keeps the ordinary prototype check. */
function branded(
  cls: abstract new (...args: never[]) => unknown,
  base: unknown,
  brand: symbol,
  value: unknown,
) {
  if (cls !== base) return Function.prototype[Symbol.hasInstance].call(cls, value);
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** Misuse of the API: bad options, unknown names, calls in the wrong state. Check `code`. */
export class OrchestratorError extends Error {
  override readonly name = 'OrchestratorError';
  readonly code: OrchestratorErrorCode;

  constructor(code: OrchestratorErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** True for an OrchestratorError of any copy of corral. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof (maybe a subclass)
    return branded(this, OrchestratorError, ORCHESTRATOR_ERROR, value);
  }
}
// On the prototype, not enumerable: not an own field that serializeError would copy.
Object.defineProperty(OrchestratorError.prototype, ORCHESTRATOR_ERROR, { value: true });

/** A run that failed after its last attempt (or was aborted). Check `reason`. */
export class RunError extends Error {
  override readonly name = 'RunError';
  readonly reason: FailureReason;
  readonly attempts: number;
  /** The worker's name. */
  readonly worker: string;

  constructor(worker: string, reason: FailureReason, attempts: number, cause: unknown) {
    super(`worker "${worker}" failed (${reason}) after ${attempts} attempt(s): ${describeError(cause)}`, {
      cause,
    });
    this.worker = worker;
    this.reason = reason;
    this.attempts = attempts;
  }

  /** True for a RunError of any copy of corral. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof (maybe a subclass)
    return branded(this, RunError, RUN_ERROR, value);
  }
}
Object.defineProperty(RunError.prototype, RUN_ERROR, { value: true });

/** An error as it crosses a thread or process boundary: plain data, custom fields kept. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  retryable?: unknown;
  /** Other own enumerable properties that survived cloning. */
  props?: Record<string, unknown>;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** Any thrown value as an `Error` (the value itself when it is one; kept as `cause` otherwise). */
export function toError(thrown: unknown, fallback = 'unknown error'): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(thrown === undefined ? fallback : describeError(thrown), { cause: thrown });
}

/** Flattens any thrown value into cloneable data, keeping `code`, `retryable` and other own fields. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: describeError(error) };
  }
  const out: SerializedError = { name: error.name, message: error.message };
  if (error.stack !== undefined) out.stack = error.stack;
  const record = error as unknown as Record<string, unknown>;
  if ('code' in record) out.code = record.code;
  if ('retryable' in record) out.retryable = record.retryable;
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    if (key === 'code' || key === 'retryable' || key === 'stack' || key === 'message') continue;
    const value = record[key];
    if (typeof value === 'function') continue;
    props ??= {};
    props[key] = value;
  }
  if (props !== undefined) out.props = props;
  return out;
}

/** Rebuilds an `Error` from {@link SerializedError}, with the same name, message, stack and fields. */
export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message);
  error.name = data.name;
  if (data.stack !== undefined) error.stack = data.stack;
  const record = error as unknown as Record<string, unknown>;
  if (data.props !== undefined) Object.assign(record, data.props);
  if (data.code !== undefined) record.code = data.code;
  if (data.retryable !== undefined) record.retryable = data.retryable;
  return error;
}

/** True when the worker marked its error as not worth another attempt. */
export function isNonRetryable(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false
  );
}

/** An error that skips the remaining attempts of its run (the same input would fail the same way). */
export function notRetryable(message: string, cause: Error): Error {
  return Object.assign(new Error(message, { cause }), { retryable: false });
}
