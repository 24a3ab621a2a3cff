import type { ServerResponse } from 'node:http';
import type { OrchestratorControl } from '../control.ts';
import type { OrchestratorEventName } from '../events.ts';
import { toJson } from './json.ts';

/** Every orchestrator event; a Record so that the compiler flags an event added to the contract. */
const EVENT_NAMES: Record<OrchestratorEventName, true> = {
  'worker:start': true,
  'worker:success': true,
  'worker:failure': true,
  'worker:disabled': true,
  'worker:enabled': true,
  'worker:dead-letter': true,
  'orchestrator:started': true,
  'orchestrator:stopped': true,
};
const EVENTS = Object.keys(EVENT_NAMES) as OrchestratorEventName[];

/** A client that reads slower than events come is cut off past this backlog rather than buffered forever. */
const MAX_BACKLOG_BYTES = 1024 * 1024;

interface Client {
  res: ServerResponse;
  heartbeat: NodeJS.Timeout;
}

/**
 * Server-sent events: every orchestrator event goes to every connected client as
 * `event: <name>\ndata: <json>\n\n`. One listener per event on the orchestrator, attached while at
 * least one client is connected, whatever the number of clients (no MaxListeners warnings, and each
 * payload is serialized once).
 */
export class EventStream {
  readonly #orch: OrchestratorControl;
  readonly #heartbeatMs: number;
  readonly #clients = new Set<Client>();
  readonly #listeners = new Map<OrchestratorEventName, (payload: unknown) => void>();

  constructor(orch: OrchestratorControl, heartbeatMs: number) {
    this.#orch = orch;
    this.#heartbeatMs = heartbeatMs;
  }

  /** Connected clients. */
  get size(): number {
    return this.#clients.size;
  }

  /** Turns the response into an event stream until the client leaves or {@link close} is called. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise buffer the stream and deliver events late.
      'x-accel-buffering': 'no',
    });
    // A first line at once: clients and proxies see the stream is live before the first event.
    res.write(': connected\n\n');
    const client: Client = {
      res,
      // A comment line now and then keeps idle proxies and load balancers from closing the stream.
      heartbeat: setInterval(() => this.#write(client, ': heartbeat\n\n'), this.#heartbeatMs),
    };
    // The connection itself keeps the process alive while it is open; the timer need not.
    client.heartbeat.unref();
    this.#clients.add(client);
    if (this.#clients.size === 1) this.#attach();
    // 'close' on the response: the client went away (or the stream was ended); not on the request,
    // whose 'close' only says its (empty) body was read.
    res.once('close', () => this.#remove(client));
  }

  /** Ends every stream and detaches from the orchestrator. */
  close(): void {
    for (const client of [...this.#clients]) {
      this.#remove(client);
      client.res.end();
    }
  }

  #attach(): void {
    for (const event of EVENTS) {
      const listener = (payload: unknown) => this.#broadcast(`event: ${event}\ndata: ${toJson(payload)}\n\n`);
      this.#listeners.set(event, listener);
      this.#orch.on(event, listener);
    }
  }

  #detach(): void {
    for (const [event, listener] of this.#listeners) this.#orch.off(event, listener);
    this.#listeners.clear();
  }

  #broadcast(frame: string): void {
    for (const client of this.#clients) this.#write(client, frame);
  }

  #write(client: Client, frame: string): void {
    if (client.res.writableLength > MAX_BACKLOG_BYTES) {
      this.#remove(client);
      client.res.destroy();
      return;
    }
    client.res.write(frame);
  }

  #remove(client: Client): void {
    if (!this.#clients.delete(client)) return;
    clearInterval(client.heartbeat);
    if (this.#clients.size === 0) this.#detach();
  }
}
