/**
 * The HTTP interface of an orchestrator as a plain `(req, res)` function: mount it in a host's own
 * `node:http` server, in Express or Fastify, or let `orch.listen()` serve it. Reads are open; mutations need
 * the bearer token. Browsers cannot send that header cross-origin without a CORS preflight, which this
 * handler never grants, so a web page cannot drive it (no CSRF).
 *
 * Express strips its mount path from `req.url`: mount with `app.use('/corral', handler)` and no
 * `basePath`. Express body parsers may run first (a body they parsed is used). Fastify: in a route or
 * `onRequest` hook, `reply.hijack()` then `handler(request.raw, reply.raw)`; its JSON parser must not
 * have consumed the stream (use `onRequest`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OrchestratorError } from '../errors.ts';
import type { WorkerOrchestrator } from '../orchestrator.ts';
import type { RunRecord } from '../store/store.ts';
import type { Isolation, OrchestratorStatus, WorkerExecutionMode, WorkerStatus } from '../types.ts';
import { BearerAuth } from './auth.ts';
import { DEFAULT_MAX_BODY_BYTES, readJsonBody } from './body.ts';
import { dashboardHtml } from './dashboard.ts';
import { wireError } from './json.ts';
import { LagMonitor } from './lag.ts';
import { CorralMetrics } from './metrics.ts';
import { HttpError, sendError, sendJson, toHttpError } from './respond.ts';
import { match, pattern, type RoutePattern } from './router.ts';
import { EventStream } from './sse.ts';

/** Options of {@link createHttpHandler} (and of `orch.listen()`). */
export interface HttpHandlerOptions {
  /** Bearer token that mutating routes require. Without one, mutations are refused (403). */
  token?: string | undefined;
  /** Serve the routes under this prefix, e.g. `/corral` (then `GET /corral/status`). @default '' */
  basePath?: string | undefined;
  /** Largest request body accepted; beyond it: 413. @default 1 MiB */
  maxBodyBytes?: number | undefined;
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

/** A worker in `GET /status`: its `getStatus()` entry plus its mode, isolation and latest runs. */
export interface HttpWorkerStatus extends WorkerStatus {
  mode: WorkerExecutionMode;
  isolation: Isolation;
  /** The latest finished runs, oldest first (see `orch.getHistory(name)`). */
  history: RunRecord[];
}

/** The body of `GET /status`: `getStatus()` with each worker as an {@link HttpWorkerStatus}. */
export interface HttpStatus extends OrchestratorStatus {
  workerStates: Record<string, HttpWorkerStatus>;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

interface Route {
  method: Method;
  path: RoutePattern;
  /** Changes state: needs the bearer token. */
  mutation: boolean;
  handle(ctx: RequestContext): void | Promise<void>;
}

/** Settles with `promise` if it settles within this event-loop turn, else reports it pending. */
function settledThisTurn<T>(
  promise: Promise<T>,
): Promise<{ state: 'fulfilled'; value: T } | { state: 'rejected'; error: unknown } | { state: 'pending' }> {
  return new Promise((resolve) => {
    // setImmediate runs after every pending microtask: a synchronous refusal has settled by then.
    const timer = setImmediate(() => resolve({ state: 'pending' }));
    promise.then(
      (value) => {
        clearImmediate(timer);
        resolve({ state: 'fulfilled', value });
      },
      (error: unknown) => {
        clearImmediate(timer);
        resolve({ state: 'rejected', error });
      },
    );
  });
}

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

/**
 * Creates the HTTP handler of `orch`. It holds an event-loop-delay monitor (for `/healthz`),
 * listeners on `orch` (for `/metrics` and `/events`) and the open event streams: call
 * `handler.close()` when done with it (`orch.listen()` does).
 *
 * Routes, relative to `basePath`: `GET /` (dashboard), `GET /status`, `GET /healthz`, `GET /metrics`,
 * `GET /events`, `GET /dead-letters`; with `Authorization: Bearer <token>`:
 * `POST /workers/:name/trigger|enable|disable`, `POST /dead-letters/:id/replay`,
 * `DELETE /dead-letters/:id`. Errors are `{ error: { code, message } }`.
 *
 * @throws OrchestratorError `ERR_INVALID_OPTION` for an empty token, a bad base path or limit.
 *
 * @example
 * const handler = createHttpHandler(orch, { token: process.env.CORRAL_TOKEN, basePath: '/corral' });
 * http.createServer((req, res) => (req.url?.startsWith('/corral') ? handler(req, res) : app(req, res)));
 */
export function createHttpHandler(orch: WorkerOrchestrator, options: HttpHandlerOptions = {}): HttpHandler {
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    // An empty token would be a password everyone knows: refused rather than taken as "no auth".
    throw new OrchestratorError('ERR_INVALID_OPTION', 'token must be a non-empty string');
  }
  const basePath = normalizeBasePath(options.basePath);
  const maxBodyBytes = positiveOption('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES);
  const maxDelayMs = positiveOption('maxEventLoopDelayMs', options.maxEventLoopDelayMs, 1000);
  const windowMs = positiveOption('healthWindowMs', options.healthWindowMs, 5000);
  const heartbeatMs = positiveOption('heartbeatMs', options.heartbeatMs, 15_000);
  const historyLimit = positiveOption('historyLimit', options.historyLimit, 20);

  const auth = new BearerAuth(options.token);
  const lag = new LagMonitor(windowMs);
  const metrics = new CorralMetrics(orch);
  const events = new EventStream(orch, heartbeatMs);
  let closed = false;

  const status = ({ res, url }: RequestContext) => {
    const query = url.searchParams.get('history');
    const limit = query === null ? historyLimit : Number(query);
    if (!Number.isInteger(limit) || limit < 0) {
      throw new HttpError(400, 'ERR_BAD_REQUEST', `history must be an integer >= 0, got "${query}"`);
    }
    const out = orch.getStatus() as HttpStatus;
    for (const [name, state] of Object.entries(out.workerStates)) {
      const config = orch.getWorker(name);
      if (config === undefined) continue;
      // Added fields only: the getStatus() shape is a contract and stays as it is.
      state.mode = config.executionMode;
      state.isolation = config.isolation;
      state.history = limit === 0 ? [] : orch.getHistory(name).slice(-limit);
    }
    sendJson(res, 200, out);
  };

  const healthz = ({ res }: RequestContext) => {
    const { state } = orch.getStatus();
    const delay = lag.reading();
    const eventLoopDelayMs = { p99: Math.round(delay.p99Ms), max: Math.round(delay.maxMs) };
    let reason: string | undefined;
    let code = 'ERR_NOT_RUNNING';
    if (state !== 'running') {
      reason = `the orchestrator is ${state}`;
    } else if (delay.maxMs > maxDelayMs) {
      code = 'ERR_LAGGING';
      reason = `the event loop ran ${Math.round(delay.maxMs)} ms late recently (limit ${maxDelayMs} ms): the scheduler is lagging`;
    }
    if (reason === undefined) {
      sendJson(res, 200, { ok: true, state, eventLoopDelayMs });
    } else {
      sendJson(res, 503, { ok: false, reason, state, eventLoopDelayMs, error: { code, message: reason } });
    }
  };

  const trigger = async ({ req, res, params }: RequestContext) => {
    const name = params.name as string;
    const payload = await readJsonBody(req, maxBodyBytes);
    // triggerWorker resolves only when the run has ended; the caller gets 202 as soon as it is queued.
    // Its refusals are immediate (false, or ERR_QUEUE_FULL), so one event-loop turn tells them apart.
    const outcome = await settledThisTurn(orch.triggerWorker(name, payload));
    if (outcome.state === 'rejected') throw toHttpError(outcome.error);
    if (outcome.state === 'fulfilled' && !outcome.value) {
      const { state, workerStates } = orch.getStatus();
      const worker = workerStates[name];
      if (worker === undefined) throw new HttpError(404, 'ERR_UNKNOWN_WORKER', `no worker named "${name}"`);
      if (state !== 'running') throw new HttpError(503, 'ERR_NOT_RUNNING', `the orchestrator is ${state}`);
      const why = worker.breaker === 'open' ? 'its circuit breaker is open' : 'it is disabled';
      throw new HttpError(409, 'ERR_WORKER_DISABLED', `worker "${name}" cannot run: ${why}`);
    }
    sendJson(res, 202, { accepted: true, worker: name });
  };

  const toggle =
    (enable: boolean) =>
    ({ res, params }: RequestContext) => {
      const name = params.name as string;
      if (enable) orch.enableWorker(name);
      else orch.disableWorker(name);
      const worker = orch.getStatus().workerStates[name];
      sendJson(res, 200, { name, enabled: worker?.enabled ?? enable, breaker: worker?.breaker ?? 'closed' });
    };

  const replay = async ({ res, params }: RequestContext) => {
    const id = params.id as string;
    try {
      const result = await orch.deadLetters.replay(id);
      sendJson(res, 200, { result: result ?? null });
    } catch (error) {
      const reason = (error as { reason?: unknown } | null)?.reason;
      if (typeof reason !== 'string') throw error;
      // The replay ran and failed again (a RunError): the request was fine, the job was not.
      const { attempts } = error as { attempts?: unknown };
      const cause = (error as { cause?: unknown }).cause;
      sendJson(res, 422, {
        error: {
          code: 'ERR_RUN_FAILED',
          reason,
          message: (error as Error).message,
          attempts,
          ...(cause instanceof Error ? { cause: wireError(cause) } : {}),
        },
      });
    }
  };

  const removeDeadLetter = ({ res, params }: RequestContext) => {
    const id = params.id as string;
    if (!orch.deadLetters.remove(id)) {
      throw new HttpError(404, 'ERR_UNKNOWN_DEAD_LETTER', `no dead letter with id "${id}"`);
    }
    sendJson(res, 200, { removed: true, id });
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: pattern('/'),
      mutation: false,
      handle: ({ res }) => {
        const html = dashboardHtml();
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': String(Buffer.byteLength(html)),
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          // The page holds buttons that act with the token: never inside someone else's frame.
          'content-security-policy': "frame-ancestors 'none'",
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
        });
        res.end(html);
      },
    },
    { method: 'GET', path: pattern('/status'), mutation: false, handle: status },
    { method: 'GET', path: pattern('/healthz'), mutation: false, handle: healthz },
    {
      method: 'GET',
      path: pattern('/metrics'),
      mutation: false,
      handle: async ({ res }) => {
        const { contentType, body } = await metrics.scrape();
        res.writeHead(200, {
          'content-type': contentType,
          'content-length': String(Buffer.byteLength(body)),
          'cache-control': 'no-store',
        });
        res.end(body);
      },
    },
    {
      method: 'GET',
      path: pattern('/events'),
      mutation: false,
      handle: ({ req, res }) => {
        if (req.method === 'HEAD') {
          res.writeHead(200, {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end();
          return;
        }
        events.open(res);
      },
    },
    {
      method: 'GET',
      path: pattern('/dead-letters'),
      mutation: false,
      handle: ({ res, url }) =>
        sendJson(res, 200, orch.deadLetters.list(url.searchParams.get('worker') ?? undefined)),
    },
    { method: 'POST', path: pattern('/workers/:name/trigger'), mutation: true, handle: trigger },
    { method: 'POST', path: pattern('/workers/:name/enable'), mutation: true, handle: toggle(true) },
    { method: 'POST', path: pattern('/workers/:name/disable'), mutation: true, handle: toggle(false) },
    { method: 'POST', path: pattern('/dead-letters/:id/replay'), mutation: true, handle: replay },
    { method: 'DELETE', path: pattern('/dead-letters/:id'), mutation: true, handle: removeDeadLetter },
  ];

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (closed) throw new HttpError(503, 'ERR_HANDLER_CLOSED', 'this HTTP handler has been closed');
    const url = parseUrl(req.url ?? '/');
    let pathname = url.pathname;
    if (basePath !== '') {
      if (pathname === basePath && (req.method === 'GET' || req.method === 'HEAD')) {
        // The dashboard's relative links resolve against the directory: `/corral` → `/corral/`.
        res.writeHead(308, { location: `${basePath}/${url.search}` });
        res.end();
        return;
      }
      if (!pathname.startsWith(`${basePath}/`)) throw notFound(pathname);
      pathname = pathname.slice(basePath.length);
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const allowed: string[] = [];
    for (const route of routes) {
      const params = match(route.path, pathname);
      if (params === undefined) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      // Before the body is read: unauthenticated clients cannot make the server buffer anything.
      if (route.mutation) auth.check(req.headers.authorization);
      await route.handle({ req, res, url, params });
      return;
    }
    if (allowed.length === 0) throw notFound(pathname);
    if (allowed.includes('GET')) allowed.push('HEAD');
    throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`, {
      allow: allowed.join(', '),
    });
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((error: unknown) => {
      try {
        sendError(res, toHttpError(error));
      } catch {
        res.destroy(); // the connection is already gone
      }
    });
  };
  return Object.assign(handler, {
    close(): void {
      if (closed) return;
      closed = true;
      events.close();
      metrics.close();
      lag.close();
    },
  });
}

/** The request target as a URL: origin-form (`/status?x`) as is, so that `//x` stays a path, not a host. */
function parseUrl(target: string): URL {
  try {
    return target.startsWith('/')
      ? new URL(`http://localhost${target}`)
      : new URL(target, 'http://localhost');
  } catch {
    throw new HttpError(400, 'ERR_BAD_REQUEST', 'the request target is not a valid URL');
  }
}

function notFound(pathname: string): HttpError {
  return new HttpError(404, 'ERR_NOT_FOUND', `no route for ${pathname}`);
}
