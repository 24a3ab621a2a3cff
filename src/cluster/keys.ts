/**
 * Where everything of one cluster lives in Redis. Every key starts with the hash tag `{name}`, so that
 * on a Redis Cluster all of them sit in one slot (BullMQ's scripts and our own touch several at once).
 *
 * BullMQ's keys are `{name}:<queue>:<kind>`, the queue being the worker's name URI-encoded (a worker
 * name may hold ':' which BullMQ refuses). corral's own keys are `{name}:%corral:<kind>`: an encoded
 * queue name never holds a '%' that is not followed by two hex digits, so the two never meet.
 */
export class ClusterKeys {
  /** BullMQ's `prefix` option. */
  readonly prefix: string;
  readonly #own: string;

  constructor(name: string) {
    this.prefix = `{${name}}`;
    this.#own = `${this.prefix}:%corral`;
  }

  /** The BullMQ queue of a worker. */
  queueName(worker: string): string {
    return encodeURIComponent(worker);
  }

  /** A key of BullMQ's for a worker's queue: `wait`, `events`, `delayed`... */
  bull(worker: string, kind: string): string {
    return `${this.prefix}:${this.queueName(worker)}:${kind}`;
  }

  /** The hash of one BullMQ job. */
  job(worker: string, jobId: string): string {
    return `${this.prefix}:${this.queueName(worker)}:${jobId}`;
  }

  /** The set of host ids that announced themselves (pruned of those whose key expired). */
  get hosts(): string {
    return `${this.#own}:hosts`;
  }

  /** One live host: its heartbeat, expiring after `lockMs` without renewal. */
  host(id: string): string {
    return `${this.#own}:host:${id}`;
  }

  /** Where a worker's schedule is: an interval's next due time, or a continuous loop's step. */
  chain(worker: string, slot: number): string {
    return `${this.#own}:chain:${this.queueName(worker)}:${slot}`;
  }

  /** A worker's breaker and enabled flag, cluster-wide (breakers.ts). */
  breaker(worker: string): string {
    return `${this.#own}:breaker:${this.queueName(worker)}`;
  }

  /** The lease of the one half-open trial of a worker. */
  trial(worker: string): string {
    return `${this.#own}:trial:${this.queueName(worker)}`;
  }

  /** The runs that hold a worker with `blocks` partners (leases.ts). */
  exclusion(worker: string): string {
    return `${this.#own}:exclusion:${this.queueName(worker)}`;
  }

  /** The cluster-wide options of a worker's latest registration to start. */
  options(worker: string): string {
    return `${this.#own}:options:${this.queueName(worker)}`;
  }

  /** The cluster's sequence: dependency freshness compares its numbers (dependencies.ts). */
  get sequence(): string {
    return `${this.#own}:sequence`;
  }

  /** A worker's last run start and last success, as sequence numbers. */
  marks(worker: string): string {
    return `${this.#own}:marks:${this.queueName(worker)}`;
  }

  /** Runs of a worker parked until its dependencies succeed. */
  parked(worker: string): string {
    return `${this.#own}:parked:${this.queueName(worker)}`;
  }

  /** The hosts' worker events, relayed for the `/events` streams of the others (event-feed.ts). */
  get events(): string {
    return `${this.#own}:events`;
  }

  /** A worker's run totals, summed over every host. */
  totals(worker: string): string {
    return `${this.#own}:totals:${this.queueName(worker)}`;
  }
}
