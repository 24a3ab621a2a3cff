import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ClusterEventFeed, RemoteEvent } from '../control.ts';
import type { OrchestratorEventName, OrchestratorEvents } from '../events.ts';
import { toJson } from '../wire-json.ts';
import { Notifier, type QueueEvent } from './notifier.ts';

/**
 * The events one host relays to the others: those of the runs it executes. The breaker's
 * `worker:disabled` / `worker:enabled` are not among them (every host emits those itself when it sees
 * the breaker move), nor `orchestrator:*` (they are about the host that serves the stream).
 */
const RELAYED: ReadonlySet<OrchestratorEventName> = new Set<OrchestratorEventName>([
  'worker:start',
  'worker:success',
  'worker:failure',
  'worker:dead-letter',
]);

/** Events are sent in one batch per this long: a few writes a second per host, whatever the load. */
const BATCH_MS = 100;
/** Events kept while Redis is slow or away; past this the newest are dropped (they are observations). */
const MAX_BUFFERED = 10_000;
/** The stream keeps about this many batches: a follower that lags further misses the oldest. */
const STREAM_MAX_LEN = 1000;

/**
 * Sends this host's worker events to the cluster's event stream while some other host has `/events`
 * clients (`watched`, from the hosts' heartbeats): no Redis write per run when nobody watches, and
 * one write per batch when somebody does. Each event's data is its payload's JSON with `host` added.
 */
export class EventRelay {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #hostId: string;
  readonly #watched: () => boolean;
  readonly #log: Logger;
  #batch: [OrchestratorEventName, string][] = [];
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;

  constructor(redis: Redis, key: string, hostId: string, log: Logger, watched: () => boolean) {
    this.#redis = redis;
    this.#key = key;
    this.#hostId = hostId;
    this.#log = log;
    this.#watched = watched;
  }

  publish<E extends OrchestratorEventName>(event: E, payload: OrchestratorEvents[E]): void {
    if (!RELAYED.has(event) || !this.#watched()) return;
    if (this.#batch.length >= MAX_BUFFERED) {
      this.#dropped++;
      return;
    }
    this.#batch.push([event, toJson({ ...payload, host: this.#hostId })]);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), BATCH_MS);
      this.#timer.unref();
    }
  }

  /** Writes what is batched (at stop: the last events go out before the connection closes). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    if (this.#redis.status !== 'ready') {
      // Kept for when Redis is back (bounded above); a flush is tried at the next event.
      return;
    }
    const batch = this.#batch;
    this.#batch = [];
    if (this.#dropped > 0) {
      this.#log.warn({ dropped: this.#dropped }, 'cluster: events not relayed (Redis too slow)');
      this.#dropped = 0;
    }
    try {
      await this.#redis.xadd(
        this.#key,
        'MAXLEN',
        '~',
        STREAM_MAX_LEN,
        '*',
        'host',
        this.#hostId,
        'events',
        JSON.stringify(batch),
      );
    } catch (error) {
      this.#log.debug({ err: error }, 'cluster: events not relayed');
    }
  }
}

/**
 * The other hosts' events, for this host's `/events` clients: the cluster's event stream, read by a
 * Notifier on a connection of its own, opened while somebody follows and closed when the last one leaves.
 * This host's own events are not read back: `/events` takes them from the orchestrator directly.
 */
export class EventFeed implements ClusterEventFeed {
  readonly hostId: string;
  readonly #key: string;
  readonly #log: Logger;
  readonly #listeners = new Set<(event: RemoteEvent) => void>();
  /** The cluster's connection while the host is started; reading needs it (a duplicate of it). */
  #redis: Redis | undefined;
  #reader: Notifier | undefined;

  constructor(hostId: string, key: string, log: Logger) {
    this.hostId = hostId;
    this.#key = key;
    this.#log = log;
  }

  /** Somebody follows: announced in the heartbeat, so that the other hosts relay their events. */
  get followed(): boolean {
    return this.#listeners.size > 0;
  }

  follow(listener: (event: RemoteEvent) => void): () => void {
    this.#listeners.add(listener);
    this.#startReading();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopReading();
    };
  }

  /** The host started: reading can begin (now, if somebody already follows). */
  attach(redis: Redis): void {
    this.#redis = redis;
    this.#startReading();
  }

  /** The host stops: reading ends; followers stay and get events again after the next start. */
  detach(): void {
    this.#redis = undefined;
    this.#stopReading();
  }

  #startReading(): void {
    if (this.#reader !== undefined || this.#redis === undefined || this.#listeners.size === 0) return;
    // The stream is read like the queues' event streams: from its end, one blocking read at a time.
    const reader = new Notifier(this.#redis.duplicate(), this.#log, (_stream, entry) => this.#deliver(entry));
    this.#reader = reader;
    reader.follow(this.#key).catch((error: unknown) => {
      // Redis away: the next follower tries again.
      this.#log.warn({ err: error }, 'cluster: the event stream cannot be followed');
      if (this.#reader === reader) this.#stopReading();
    });
  }

  #stopReading(): void {
    void this.#reader?.close();
    this.#reader = undefined;
  }

  #deliver(entry: QueueEvent): void {
    const { host, events } = entry;
    if (host === undefined || host === this.hostId || events === undefined) return;
    let batch: [OrchestratorEventName, string][];
    try {
      batch = JSON.parse(events) as [OrchestratorEventName, string][];
    } catch {
      return;
    }
    for (const [event, data] of batch) {
      for (const listener of this.#listeners) listener({ host, event, data });
    }
  }
}
