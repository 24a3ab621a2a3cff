/**
 * The HTTP layer proper: routes, auth, bodies, metrics, events and the dashboard. Loaded on first use
 * by `createHttpHandler` (lazy-handler.ts) and `orch.listen()` (server.ts). Reads are open; mutations
 * need the bearer token. Browsers cannot send that header cross-origin without a CORS preflight, which
 * this handler never grants, so a web page cannot drive it (no CSRF).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OrchestratorControl } from '../control.ts';
import type { RunRecord } from '../store/store.ts';
import type { Isolation, OrchestratorStatus, WorkerExecutionMode, WorkerStatus } from '../types.ts';
import { wireError } from '../wire-json.ts';
import { DASHBOARD_ASSETS, sendAsset } from './assets.ts';
import { BearerAuth } from './auth.ts';
import { readJsonBody } from './body.ts';
import { deadLetterJson, deadLetterPage } from './dead-letters.ts';
import { HostCheck } from './host-check.ts';
import { LagMonitor } from './lag.ts';
import { CorralMetrics } from './metrics.ts';
import type { HttpHandler, ResolvedHttpOptions } from './options.ts';
import { HttpError, sendError, sendJson, sendJsonText, toHttpError } from './respond.ts';
import { match, pattern, type RoutePattern } from './router.ts';
import { EventStream } from './sse.ts';

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

/** Codes that, raised by a trigger, refuse its payload: the client's error, not the server's. */
const PAYLOAD_REFUSED: ReadonlyMap<string, number> = new Map([['ERR_STORE', 422]]);

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

/** The handler of `orch` with options already checked (see `createHttpHandler` for the routes). */
export function buildHttpHandler(orch: OrchestratorControl, options: ResolvedHttpOptions): HttpHandler {
  const { basePath, maxBodyBytes, historyLimit } = options;
  const maxDelayMs = options.maxEventLoopDelayMs;
  const auth = new BearerAuth(options.token);
  const hosts = new HostCheck(options.allowedHosts);
  const lag = new LagMonitor(options.healthWindowMs);
  const metrics = new CorralMetrics(orch);
  const events = new EventStream(orch, options.heartbeatMs);
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
    const { state, cluster } = orch.getStatus();
    const delay = lag.reading();
    const eventLoopDelayMs = { p99: Math.round(delay.p99Ms), max: Math.round(delay.maxMs) };
    let reason: string | undefined;
    let code = 'ERR_NOT_RUNNING';
    if (state !== 'running') {
      reason = `the orchestrator is ${state}`;
    } else if (cluster?.redis === 'unreachable') {
      // Runs in flight finish, but no new run starts until Redis is back (README: Running on several machines).
      code = 'ERR_REDIS_UNREACHABLE';
      reason = 'Redis is unreachable (reconnecting): no new run starts on this host until it is back';
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
    const payload = await readJsonBody(req, maxBodyBytes, options.bodyTimeoutMs);
    // triggerWorker resolves only when the run has ended; the caller gets 202 as soon as it is queued.
    // Its refusals are immediate (false, or ERR_QUEUE_FULL), so one event-loop turn tells them apart.
    const outcome = await settledThisTurn(orch.triggerWorker(name, payload));
    // Refused at the call, ERR_STORE means the store cannot keep this payload: the caller's input.
    if (outcome.state === 'rejected') throw toHttpError(outcome.error, PAYLOAD_REFUSED);
    if (outcome.state === 'fulfilled' && !outcome.value) {
      const { state, workerStates } = orch.getStatus();
      // An own key only: "constructor" or "toString" must not find what every object inherits.
      const worker = Object.hasOwn(workerStates, name) ? workerStates[name] : undefined;
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
      const { workerStates } = orch.getStatus();
      const worker = Object.hasOwn(workerStates, name) ? workerStates[name] : undefined;
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
    if (!orch.deadLetters.remove(id)) throw unknownDeadLetter(id);
    sendJson(res, 200, { removed: true, id });
  };

  const routes: Route[] = [
    ...[...DASHBOARD_ASSETS].map(
      ([path, asset]): Route => ({
        method: 'GET',
        path: pattern(path),
        mutation: false,
        handle: ({ res }) => sendAsset(res, asset),
      }),
    ),
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
        const lastEventId = req.headers['last-event-id'];
        events.open(res, typeof lastEventId === 'string' ? lastEventId : undefined);
      },
    },
    {
      method: 'GET',
      path: pattern('/dead-letters'),
      mutation: false,
      handle: ({ res, url }) => sendJsonText(res, 200, deadLetterPage(orch.deadLetters, url.searchParams)),
    },
    {
      method: 'GET',
      path: pattern('/dead-letters/:id'),
      mutation: false,
      handle: ({ res, params }) => {
        const id = params.id as string;
        const entry = orch.deadLetters.get(id);
        if (entry === undefined) throw unknownDeadLetter(id);
        sendJsonText(res, 200, deadLetterJson(entry, true));
      },
    },
    { method: 'POST', path: pattern('/workers/:name/trigger'), mutation: true, handle: trigger },
    { method: 'POST', path: pattern('/workers/:name/enable'), mutation: true, handle: toggle(true) },
    { method: 'POST', path: pattern('/workers/:name/disable'), mutation: true, handle: toggle(false) },
    { method: 'POST', path: pattern('/dead-letters/:id/replay'), mutation: true, handle: replay },
    { method: 'DELETE', path: pattern('/dead-letters/:id'), mutation: true, handle: removeDeadLetter },
  ];

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (closed) throw new HttpError(503, 'ERR_HANDLER_CLOSED', 'this HTTP handler has been closed');
    hosts.checkHost(req);
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
      if (route.mutation) {
        hosts.checkOrigin(req);
        auth.check(req.headers.authorization);
      }
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
        // A body not read to its end (refused before reading, too large, too slow): the connection
        // closes after the answer (node:http then destroys the socket once the answer is flushed)
        // rather than read on, maybe endlessly, to keep it alive for another request.
        if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
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

function unknownDeadLetter(id: string): HttpError {
  return new HttpError(404, 'ERR_UNKNOWN_DEAD_LETTER', `no dead letter with id "${id}"`);
}

function notFound(pathname: string): HttpError {
  return new HttpError(404, 'ERR_NOT_FOUND', `no route for ${pathname}`);
}
