import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { OrchestratorControl } from '../control.ts';
import { buildHttpHandler } from './handler.ts';
import { type HttpHandlerOptions, resolveHttpOptions } from './options.ts';

/** Options of `orch.listen()`: where to listen, and those of `createHttpHandler`. */
export interface ListenOptions extends HttpHandlerOptions {
  /** `0` picks a free port (read it from `url`). @default 0 */
  port?: number | undefined;
  /** Loopback by default: exposing the API on a network is a decision to make, not a default. @default '127.0.0.1' */
  host?: string | undefined;
}

/** A running HTTP server of an orchestrator. */
export interface HttpServerHandle {
  /** Base URL of the routes, e.g. `http://127.0.0.1:43117/` (with the `basePath`, if any). */
  url: string;
  /** Ends the event streams, stops accepting connections and resolves once the server is closed. */
  close(): Promise<void>;
}

/** Requests still running when close() is called get this long to finish before their sockets are cut. */
const CLOSE_GRACE_MS = 2000;

/** Host part of a URL: IPv6 literals go in brackets. */
function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * Serves `createHttpHandler(orch, options)` on its own `node:http` server, on
 * `127.0.0.1` and a free port unless told otherwise. Rejects if the port cannot be bound.
 */
export function listen(orch: OrchestratorControl, options: ListenOptions = {}): Promise<HttpServerHandle> {
  const { port = 0, host = '127.0.0.1', ...handlerOptions } = options;
  const handler = buildHttpHandler(orch, resolveHttpOptions(handlerOptions));
  /**
   * Responses in flight per open socket. `server.closeIdleConnections()` does not count a socket on
   * which no request has started yet (fetch clients open those) as idle, so close() would wait for its
   * timeout: close() uses this map to end every socket that has nothing in flight, at once.
   */
  const sockets = new Map<Socket, number>();
  let closing: Promise<void> | undefined;

  // Bounds how long a client may take to send its request; responses (event streams) are not limited.
  const server = createServer({ requestTimeout: 60_000 }, (req, res) => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const inFlight = (sockets.get(socket) ?? 1) - 1;
      if (!sockets.has(socket)) return;
      sockets.set(socket, inFlight);
      if (closing !== undefined && inFlight === 0) socket.destroy();
    });
    handler(req, res);
  });
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, 0);
    socket.once('close', () => sockets.delete(socket));
  });

  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      // Cut what is still open after a grace period (a replay waiting on a long job, a slow client).
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      server.close((error) => {
        clearTimeout(force);
        if (error !== undefined && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') {
          reject(error);
        } else {
          resolve();
        }
      });
      // Event streams never end by themselves: end them, then every socket with nothing in flight.
      handler.close();
      for (const [socket, inFlight] of sockets) if (inFlight === 0) socket.destroy();
    });
    return closing;
  };

  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      handler.close();
      reject(error);
    };
    server.once('error', onError);
    try {
      server.listen(port, host, () => {
        server.off('error', onError);
        const { address, port: bound } = server.address() as AddressInfo;
        const base = handlerOptions.basePath?.replace(/\/+$/, '') ?? '';
        resolve({ url: `http://${urlHost(address)}:${bound}${base}/`, close });
      });
    } catch (error) {
      // listen() throws synchronously for an invalid port or host.
      onError(error as Error);
    }
  });
}
