import type { Queue, Worker } from 'bullmq';
import type { WorkerRecord } from '../worker-record.ts';

/**
 * One worker's BullMQ queue as this host sees it: the queue (to add runs, count them, remove them)
 * and, on a host that executes the worker, a BullMQ Worker used only for manual fetching
 * (`getNextJob`), lock extension and stalled-job recovery — corral decides when to fetch.
 */
export class Lane {
  readonly worker: WorkerRecord;
  readonly queue: Queue;
  readonly fetcher: Worker | undefined;
  /** The last fetch found nothing: no fetch until an event says something may be there. */
  idle = false;
  /**
   * Counts the events that may have brought work. A fetch that found nothing marks the lane idle only
   * if none arrived while it was on its way (else that event's wake-up would be lost).
   */
  epoch = 0;
  /** When the earliest delayed job (a retry's backoff) falls due, and the timer set for it. */
  dueAt: number | undefined;
  dueTimer: NodeJS.Timeout | undefined;
  /**
   * A delayed job fell due at this time and no fetch has looked since: BullMQ moves due jobs to the
   * wait list only when a fetch asks, so until then the lane counts as holding a run waiting since then.
   */
  dueReady: number | undefined;
  /**
   * A cluster-wide gate said no (a `blocks` partner runs somewhere, another host holds the half-open
   * trial): no fetch until a wake-up (a partner's run ended, the breaker moved) or `heldTimer`.
   */
  held = false;
  heldTimer: NodeJS.Timeout | undefined;
  /** Mirror: runs waiting cluster-wide. */
  waiting = 0;
  /** Runs this host sent since the mirror read `waiting`. */
  sent = 0;
  /** Requested runs being sent from this host without a count (far below `maxQueue`), not added yet. */
  sending = 0;
  /** Sends near `maxQueue` go one at a time: each waits for this, the one before. */
  sendTurn: Promise<void> = Promise.resolve();
  #landed: (() => void)[] = [];
  /** Set up (its event stream followed, its global concurrency set). */
  ready: Promise<void> = Promise.resolve();

  constructor(worker: WorkerRecord, queue: Queue, fetcher: Worker | undefined) {
    this.worker = worker;
    this.queue = queue;
    this.fetcher = fetcher;
  }

  /** A send without a count ended (added or failed). */
  sendEnded(): void {
    this.sending--;
    if (this.sending === 0) for (const resolve of this.#landed.splice(0)) resolve();
  }

  /** Resolves once no send without a count is under way (they are then in Redis's count). */
  sendsLanded(): Promise<void> {
    if (this.sending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#landed.push(resolve));
  }

  /** Something may be there: fetch again. */
  stir(): void {
    this.idle = false;
    this.epoch++;
  }

  /** A fetch begun at `epoch` found nothing. */
  foundNothing(epoch: number): void {
    if (this.epoch === epoch) this.idle = true;
  }

  clearDue(): void {
    if (this.dueTimer !== undefined) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    this.dueAt = undefined;
  }
}
