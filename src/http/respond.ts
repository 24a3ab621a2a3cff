import type { ServerResponse } from 'node:http';
import { toJson } from '../wire-json.ts';

/** A request refused with an HTTP status and a stable `code`, sent as `{ error: { code, message } }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly code: string;
  /** Extra response headers (e.g. `Allow` for 405, `WWW-Authenticate` for 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/**
 * HTTP status of each `OrchestratorError` code a route can meet (DESIGN 1.6). A Map: a code read from an
 * error is never looked up among the keys every object inherits.
 */
const STATUS_OF_CODE: ReadonlyMap<string, number> = new Map([
  ['ERR_UNKNOWN_WORKER', 404],
  ['ERR_UNKNOWN_DEAD_LETTER', 404],
  ['ERR_WORKER_DISABLED', 409],
  ['ERR_PAYLOAD_TOO_LARGE', 413],
  ['ERR_QUEUE_FULL', 429],
  ['ERR_NOT_RUNNING', 503],
  ['ERR_INVALID_OPTION', 400],
]);

/**
 * The {@link HttpError} for an error thrown by the orchestrator, matched on `code` rather than
 * `instanceof` (the README's advice: codes survive duplicate copies of the library). `overrides`
 * gives a route's own status for a code (e.g. `ERR_STORE` refusing the payload of a trigger).
 */
export function toHttpError(error: unknown, overrides: ReadonlyMap<string, number> = new Map()): HttpError {
  if (error instanceof HttpError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string') {
    const status = overrides.get(code) ?? STATUS_OF_CODE.get(code);
    if (status !== undefined) return new HttpError(status, code, message);
  }
  return new HttpError(500, 'ERR_INTERNAL', message);
}

/** Sends `body` as JSON (never cached: every answer describes live state). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendJsonText(res, status, toJson(body), headers);
}

/** Sends `text`, already JSON, as {@link sendJson} does. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * Sends `error` as `{ error: { code, message, ...extra } }`. If the response has already begun (a
 * stream), the connection is cut instead: a half-written body must not look complete.
 */
export function sendError(res: ServerResponse, error: HttpError, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(
    res,
    error.status,
    { error: { code: error.code, message: error.message, ...extra } },
    error.headers,
  );
}
