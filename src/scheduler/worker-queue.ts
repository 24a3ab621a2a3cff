import { ORIGINS, type Run } from '../run.ts';
import { RunQueue } from './run-queue.ts';

/**
 * The waiting runs of one worker, in two FIFOs: its own (scheduled, continuous, pipeline — these wait
 * for dependency freshness) and requested ones (run, trigger, replay — these do not). Keeping them
 * apart lets a request start while a scheduled run ahead of it still waits for its dependencies.
 */
export class WorkerQueue {
  /** In the ready heap now (see ready-queue.ts); `readyKey` is the seq of its oldest run when pushed. */
  inReadyHeap = false;
  readyKey = 0;
  /**
   * None of the waiting runs could start at the last look (concurrency, blocks, dependencies, breaker):
   * kept out of the ready heap until something that could unblock it happens.
   */
  blocked = false;
  readonly #own = new RunQueue<Run>();
  readonly #requested = new RunQueue<Run>();
  #scheduled = 0;
  #pipeline = 0;

  /** Waiting runs in all. */
  get size(): number {
    return this.#own.size + this.#requested.size;
  }

  /** Requested runs waiting: what `maxQueue` bounds. */
  get requested(): number {
    return this.#requested.size;
  }

  /** Scheduled or continuous runs waiting (a schedule never piles up more than it needs). */
  get scheduled(): number {
    return this.#scheduled;
  }

  /** A pipeline run is waiting: dependencies succeeding again do not add another. */
  get pipelineWaiting(): boolean {
    return this.#pipeline > 0;
  }

  push(run: Run): void {
    if (isOwn(run)) {
      this.#own.push(run);
      this.#count(run, 1);
    } else {
      this.#requested.push(run);
    }
  }

  /** Enqueue order of the run waiting longest. */
  oldestSeq(): number | undefined {
    const own = this.#own.peek();
    const requested = this.#requested.peek();
    if (own === undefined) return requested?.seq;
    if (requested === undefined) return own.seq;
    return Math.min(own.seq, requested.seq);
  }

  /** Takes the oldest of the two heads that `canStart` accepts. */
  takeStartable(canStart: (run: Run) => boolean): Run | undefined {
    const own = this.#own.peek();
    const requested = this.#requested.peek();
    const heads =
      own !== undefined && requested !== undefined && requested.seq < own.seq
        ? [requested, own]
        : [own, requested];
    for (const run of heads) {
      if (run !== undefined && canStart(run)) {
        this.remove(run);
        return run;
      }
    }
    return undefined;
  }

  /** Removes `run` if it is still waiting. */
  remove(run: Run): boolean {
    if (isOwn(run)) {
      if (!this.#own.remove(run)) return false;
      this.#count(run, -1);
      return true;
    }
    return this.#requested.remove(run);
  }

  /** Takes every waiting run out. */
  drain(): Run[] {
    const runs = [...this.#own.drain(), ...this.#requested.drain()];
    this.#scheduled = 0;
    this.#pipeline = 0;
    return runs;
  }

  #count(run: Run, delta: number): void {
    if (run.origin === 'pipeline') this.#pipeline += delta;
    else this.#scheduled += delta;
  }
}

function isOwn(run: Run): boolean {
  return ORIGINS[run.origin].ownQueue;
}
