/**
 * The public `createHttpHandler`: validates the options at once, and loads the HTTP layer (routes,
 * dashboard, prom-client) only now, on first use, so that importing corral costs nothing for an
 * application that never serves HTTP. Requests that arrive while it loads wait for it (a few
 * milliseconds, once).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OrchestratorControl } from '../control.ts';
import { type HttpHandler, type HttpHandlerOptions, resolveHttpOptions } from './options.ts';

type Serve = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers a request the real handler can no longer take (closed, or failed to load). */
function unavailable(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  });
  res.end(body);
}

/**
 * Creates the HTTP handler of `orch`: a `(req, res)` function to mount in a host's own `node:http`
 * server, Express or Fastify. It holds an event-loop-delay monitor (for `/healthz`), listeners on
 * `orch` (for `/metrics` and `/events`) and the open event streams: call `handler.close()` when done
 * with it (`orch.listen()` does).
 *
 * Routes, relative to `basePath`: `GET /` (dashboard and its assets), `GET /status`, `GET /healthz`,
 * `GET /metrics`, `GET /events`, `GET /dead-letters`, `GET /dead-letters/:id`; with
 * `Authorization: Bearer <token>`: `POST /workers/:name/trigger|enable|disable`,
 * `POST /dead-letters/:id/replay`, `DELETE /dead-letters/:id`. Errors are `{ error: { code, message } }`.
 *
 * Express strips its mount path from `req.url`: mount with `app.use('/corral', handler)` and no
 * `basePath`. Express body parsers may run first (a body they parsed is used). Fastify: in a route or
 * `onRequest` hook, `reply.hijack()` then `handler(request.raw, reply.raw)`; its JSON parser must not
 * have consumed the stream (use `onRequest`).
 *
 * @throws OrchestratorError `ERR_INVALID_OPTION` for an empty token, a bad base path or limit.
 *
 * @example
 * const handler = createHttpHandler(orch, { token: process.env.CORRAL_TOKEN, basePath: '/corral' });
 * http.createServer((req, res) => (req.url?.startsWith('/corral') ? handler(req, res) : app(req, res)));
 */
export function createHttpHandler(orch: OrchestratorControl, options: HttpHandlerOptions = {}): HttpHandler {
  const resolved = resolveHttpOptions(options);
  let real: HttpHandler | undefined;
  let failure: unknown;
  let closed = false;
  let waiting: [IncomingMessage, ServerResponse][] = [];

  const flush = () => {
    const queued = waiting;
    waiting = [];
    for (const [req, res] of queued) handler(req, res);
  };
  void import('./handler.ts').then(
    (mod) => {
      if (!closed) real = mod.buildHttpHandler(orch, resolved);
      flush();
    },
    (error: unknown) => {
      failure = error;
      flush();
    },
  );

  const handler: Serve = (req, res) => {
    if (real !== undefined) {
      real(req, res);
    } else if (closed) {
      unavailable(res, 503, 'ERR_HANDLER_CLOSED', 'this HTTP handler has been closed');
    } else if (failure !== undefined) {
      const message = failure instanceof Error ? failure.message : String(failure);
      unavailable(res, 500, 'ERR_INTERNAL', `the HTTP layer could not be loaded: ${message}`);
    } else {
      waiting.push([req, res]);
    }
  };
  return Object.assign(handler, {
    close(): void {
      closed = true;
      real?.close();
    },
  });
}
