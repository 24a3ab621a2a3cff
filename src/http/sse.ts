import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { OrchestratorControl } from '../control.ts';
import type { OrchestratorEventName } from '../events.ts';
import { toJson } from '../wire-json.ts';

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

/** Events kept for clients that reconnect (`Last-Event-ID`): the last this many, within this many bytes. */
const REPLAY_EVENTS = 1000;
const REPLAY_BYTES = 4 * 1024 * 1024;
/** Events are recorded while a client is connected and this long after the last one left. */
const REPLAY_LINGER_MS = 10 * 60 * 1000;

interface Recorded {
  seq: number;
  frame: string;
}

interface Client {
  res: ServerResponse;
  heartbeat: NodeJS.Timeout;
}

/**
 * Server-sent events: every orchestrator event goes to every connected client as
 * `id: <id>\nevent: <name>\ndata: <json>\n\n`. One listener per event on the orchestrator, whatever
 * the number of clients (no MaxListeners warnings, and each payload is serialized once), attached
 * while a client is connected and for a while after the last one left: the events of that time are
 * kept (the last 1000) and sent to a client that reconnects with `Last-Event-ID`, as browsers'
 * EventSource does, so a dashboard that lost its connection for a moment misses nothing.
 *
 * Ids are `<stream>-<n>`: `<stream>` is random per handler, so an id from another server (before a
 * restart) is recognised as such, and such a client gets every event kept.
 *
 * On a cluster host the stream shows the whole cluster: the other hosts' worker events come from the
 * cluster's event feed, and every event's data carries `host`, the host where it happened.
 */
export class EventStream {
  readonly #orch: OrchestratorControl;
  readonly #heartbeatMs: number;
  readonly #clients = new Set<Client>();
  readonly #listeners = new Map<OrchestratorEventName, (payload: unknown) => void>();
  readonly #stream = randomBytes(6).toString('base64url');
  readonly #recorded: Recorded[] = [];
  #recordedBytes = 0;
  #seq = 0;
  #linger: NodeJS.Timeout | undefined;
  #unfollow: (() => void) | undefined;

  constructor(orch: OrchestratorControl, heartbeatMs: number) {
    this.#orch = orch;
    this.#heartbeatMs = heartbeatMs;
  }

  /** Connected clients. */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * Turns the response into an event stream until the client leaves or {@link close} is called. With
   * `lastEventId` (the `Last-Event-ID` header of a reconnection), the events kept since then come first.
   */
  open(res: ServerResponse, lastEventId?: string): void {
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
    if (lastEventId !== undefined) {
      for (const { frame } of this.#since(lastEventId)) res.write(frame);
    }
    this.#clients.add(client);
    clearTimeout(this.#linger);
    this.#linger = undefined;
    if (this.#listeners.size === 0) this.#attach();
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
    this.#detach();
  }

  /** The recorded events after `lastEventId`: all of them if it is not one of this stream's. */
  #since(lastEventId: string): Recorded[] {
    const [stream, n] = lastEventId.trim().split('-');
    const seq = Number(n);
    if (stream !== this.#stream || !Number.isInteger(seq)) return this.#recorded;
    return this.#recorded.filter((event) => event.seq > seq);
  }

  #attach(): void {
    const feed = this.#orch.clusterEvents;
    for (const event of EVENTS) {
      const listener =
        feed === undefined
          ? (payload: unknown) => this.#send(event, toJson(payload))
          : (payload: unknown) => this.#send(event, toJson({ ...(payload as object), host: feed.hostId }));
      this.#listeners.set(event, listener);
      this.#orch.on(event, listener);
    }
    this.#unfollow = feed?.follow(({ event, data }) => this.#send(event, data));
  }

  #send(event: OrchestratorEventName, data: string): void {
    const seq = ++this.#seq;
    this.#broadcast(seq, `id: ${this.#stream}-${seq}\nevent: ${event}\ndata: ${data}\n\n`);
  }

  #detach(): void {
    clearTimeout(this.#linger);
    this.#linger = undefined;
    for (const [event, listener] of this.#listeners) this.#orch.off(event, listener);
    this.#listeners.clear();
    this.#unfollow?.();
    this.#unfollow = undefined;
    this.#recorded.length = 0;
    this.#recordedBytes = 0;
  }

  #broadcast(seq: number, frame: string): void {
    this.#recorded.push({ seq, frame });
    this.#recordedBytes += frame.length;
    while (this.#recorded.length > REPLAY_EVENTS || this.#recordedBytes > REPLAY_BYTES) {
      this.#recordedBytes -= (this.#recorded.shift() as Recorded).frame.length;
    }
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
    if (this.#clients.size === 0 && this.#listeners.size > 0) {
      // Keep recording for a while: the client may be reconnecting and should miss nothing.
      this.#linger = setTimeout(() => this.#detach(), REPLAY_LINGER_MS);
      this.#linger.unref();
    }
  }
}
