/**
 * Options of the HTTP handler, validated synchronously: `createHttpHandler()` throws at once for a bad
 * one, before the rest of the HTTP layer (and prom-client) is loaded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OrchestratorError } from '../errors.ts';

/** Options of `createHttpHandler` (and of `orch.listen()`). */
export interface HttpHandlerOptions {
  /** Bearer token that mutating routes require. Without one, mutations are refused (403). */
  token?: string | undefined;
  /** Serve the routes under this prefix, e.g. `/corral` (then `GET /corral/status`). @default '' */
  basePath?: string | undefined;
  /** Largest request body accepted; beyond it: 413. @default 1 MiB */
  maxBodyBytes?: number | undefined;
  /**
   * A request body must arrive within this many milliseconds of the handler starting to read it; a
   * slower one is answered 408 and its connection closed (a host's own server would otherwise wait
   * for Node's `requestTimeout`, 300 s by default). @default 10000
   */
  bodyTimeoutMs?: number | undefined;
  /**
   * Host names, besides loopback ones, that requests arriving on a loopback address may name in their
   * `Host` header (DNS-rebinding protection, as dev servers do): `'corral.internal'` matches that name,
   * `'.example.com'` the domain and its subdomains; `true` accepts any Host. Also the origins that
   * mutations may come from (`Origin` header), besides the server's own. @default []
   */
  allowedHosts?: readonly string[] | true | undefined;
  /** `GET /healthz` fails while the event loop ran this late in the last few seconds. @default 1000 */
  maxEventLoopDelayMs?: number | undefined;
  /** Length of one event-loop-delay window; `/healthz` looks at the last one or two. @default 5000 */
  healthWindowMs?: number | undefined;
  /** Interval of the comment lines that keep `GET /events` streams alive. @default 15000 */
  heartbeatMs?: number | undefined;
  /** Finished runs listed per worker by `GET /status` (a `?history=N` query overrides it). @default 20 */
  historyLimit?: number | undefined;
}

/** A request handler for `node:http` with the resources it holds (event listeners, timers). */
export type HttpHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Ends the `/events` streams and releases the listeners and timers; later requests get 503. */
  close(): void;
};

/** {@link HttpHandlerOptions} checked and with their defaults. */
export interface ResolvedHttpOptions {
  token: string | undefined;
  basePath: string;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  /** Lower-case names; a leading dot stands for a domain and its subdomains. */
  allowedHosts: readonly string[] | true;
  maxEventLoopDelayMs: number;
  healthWindowMs: number;
  heartbeatMs: number;
  historyLimit: number;
}

/** Default limit of a request body: payloads are job inputs, not uploads. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new OrchestratorError(
      'ERR_INVALID_OPTION',
      `${name} must be a finite number > 0, got ${String(value)}`,
    );
  }
  return value;
}

function normalizeBasePath(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (typeof basePath !== 'string' || !basePath.startsWith('/') || /[?#]/.test(basePath)) {
    throw new OrchestratorError(
      'ERR_INVALID_OPTION',
      `basePath must be a path starting with "/", got ${JSON.stringify(basePath)}`,
    );
  }
  return basePath.replace(/\/+$/, '');
}

function normalizeAllowedHosts(value: readonly string[] | true | undefined): readonly string[] | true {
  if (value === undefined) return [];
  if (value === true) return true;
  if (!Array.isArray(value) || value.some((host) => typeof host !== 'string' || host.trim() === '')) {
    throw new OrchestratorError(
      'ERR_INVALID_OPTION',
      `allowedHosts must be true or an array of host names, got ${JSON.stringify(value)}`,
    );
  }
  return value.map((host) => host.trim().toLowerCase().replace(/\.$/, ''));
}

/**
 * Checks `options` and applies the defaults.
 *
 * @throws OrchestratorError `ERR_INVALID_OPTION` for an empty token, a bad base path, limit or host list.
 */
export function resolveHttpOptions(options: HttpHandlerOptions): ResolvedHttpOptions {
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    // An empty token would be a password everyone knows: refused rather than taken as "no auth".
    throw new OrchestratorError('ERR_INVALID_OPTION', 'token must be a non-empty string');
  }
  return {
    token: options.token,
    basePath: normalizeBasePath(options.basePath),
    maxBodyBytes: positiveOption('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
    bodyTimeoutMs: positiveOption('bodyTimeoutMs', options.bodyTimeoutMs, 10_000),
    allowedHosts: normalizeAllowedHosts(options.allowedHosts),
    maxEventLoopDelayMs: positiveOption('maxEventLoopDelayMs', options.maxEventLoopDelayMs, 1000),
    healthWindowMs: positiveOption('healthWindowMs', options.healthWindowMs, 5000),
    heartbeatMs: positiveOption('heartbeatMs', options.heartbeatMs, 15_000),
    historyLimit: positiveOption('historyLimit', options.historyLimit, 20),
  };
}
