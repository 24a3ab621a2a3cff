import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** One entry of a stream (an event of a BullMQ queue's event stream), its fields as they were written. */
export type QueueEvent = Record<string, string>;

export type EventHandler = (stream: string, event: QueueEvent) => void;

/** How long close() waits for the read loop to end. */
const CLOSE_WAIT_MS = 1000;

/** After a read that returned events, the pause before the next one (see #read). */
const GATHER_MS = 1;

/** How long one blocking read waits before it is issued again (and picks up new streams). */
const BLOCK_MS = 2000;

/**
 * Reads the event streams of every worker's BullMQ queue on one connection, with one blocking XREAD
 * over all of them: what is added, waiting, delayed, completed, failed, stalled or removed anywhere in
 * the cluster reaches this host without polling. (All the streams share the cluster's hash tag, so the
 * one XREAD is legal on a Redis Cluster too.) The cluster's own event stream (event-feed.ts) is read
 * the same way.
 */
export class Notifier {
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #handler: EventHandler;
  /** Stream key → the last id read. */
  readonly #streams = new Map<string, string>();
  #closed = false;
  #loop: Promise<void> | undefined;

  readonly #onQuiet: () => void;

  /**
   * `onQuiet` is called when a blocking read ends with no event: a bounded second chance (every
   * BLOCK_MS at most) for work whose notification was missed — a lost wake-up must delay a run, never
   * strand it.
   */
  constructor(redis: Redis, log: Logger, handler: EventHandler, onQuiet: () => void = () => undefined) {
    this.#redis = redis;
    this.#log = log;
    this.#handler = handler;
    this.#onQuiet = onQuiet;
    // Connection errors surface as failed reads below (and ioredis reconnects): not as unhandled events.
    redis.on('error', () => undefined);
  }

  /** Follows `stream` from its current end: nothing written before this call is read. */
  async follow(stream: string): Promise<void> {
    if (this.#streams.has(stream)) return;
    const last = await this.#redis.xrevrange(stream, '+', '-', 'COUNT', 1);
    if (!this.#streams.has(stream)) this.#streams.set(stream, last[0]?.[0] ?? '0-0');
    this.#loop ??= this.#read();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#redis.disconnect();
    // A read issued while the connection was down waits in ioredis's offline queue, which a disconnect
    // does not always fail: the loop is waited for a moment, then left (it holds no timer or socket).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#loop,
      new Promise((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  async #read(): Promise<void> {
    while (!this.#closed) {
      const keys = [...this.#streams.keys()];
      let result: [string, [string, string[]][]][] | null;
      try {
        result = (await this.#redis.xread(
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          ...keys,
          ...keys.map((key) => this.#streams.get(key) as string),
        )) as [string, [string, string[]][]][] | null;
      } catch (error) {
        if (this.#closed) return;
        this.#log.warn({ err: error }, 'cluster: reading queue events failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      if (result === null) {
        this.#onQuiet();
        continue;
      }
      for (const [stream, entries] of result) {
        for (const [id, fields] of entries) {
          this.#streams.set(stream, id);
          const event: QueueEvent = {};
          for (let i = 0; i + 1 < fields.length; i += 2) event[fields[i] as string] = fields[i + 1] as string;
          try {
            this.#handler(stream, event);
          } catch (error) {
            this.#log.error({ err: error }, 'cluster: a queue event could not be handled');
          }
        }
      }
      // Under load events come one by one: a moment before the next read lets them gather, so that one
      // read returns many (a round trip per millisecond at most, instead of a few per run).
      await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
    }
  }
}
