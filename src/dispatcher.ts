import type { AttemptRunner } from './attempt-runner.ts';
import type { BreakerController } from './breaker-controller.ts';
import type { Clock } from './clock.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import type { Run } from './run.ts';
import { canStart } from './scheduler/gates.ts';
import type { Sequence } from './sequence.ts';

export interface DispatcherContext {
  clock: Clock;
  sequence: Sequence;
  queue: WorkQueue;
  runner: AttemptRunner;
  breakers: BreakerController;
  maxConcurrentWorkers: number;
  state(): 'stopped' | 'running' | 'stopping';
}

/**
 * Starts what may start, best first, while global slots (`maxConcurrentWorkers`) are free: retries whose
 * backoff is over, and waiting runs whose gates (scheduler/gates.ts: enabled, breaker, `concurrency`,
 * `blocks`, `dependsOn`) let them. Never re-entered: a dispatch asked for during one runs after it.
 */
export class Dispatcher {
  readonly #ctx: DispatcherContext;
  #dispatching = false;
  #again = false;

  constructor(context: DispatcherContext) {
    this.#ctx = context;
  }

  dispatch(): void {
    if (this.#dispatching) {
      this.#again = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#again = false;
        this.#pass();
      } while (this.#again);
    } finally {
      this.#dispatching = false;
    }
  }

  #pass(): void {
    const ctx = this.#ctx;
    const state = ctx.state();
    if (state === 'stopped') return;
    // While stopping only retries of runs in flight start; nothing new does.
    const gate = state === 'running' ? canStart : refuseAll;
    while (ctx.runner.inFlight < ctx.maxConcurrentWorkers) {
      const run = ctx.queue.next(gate);
      if (run === undefined) break;
      if (run.state === 'retry-ready') ctx.runner.start(run);
      else this.#begin(run);
    }
  }

  /** A waiting run starts its first attempt. */
  #begin(run: Run): void {
    const ctx = this.#ctx;
    const { worker } = run;
    ctx.queue.begin(run);
    worker.lastStartSeq = ctx.sequence.next();
    worker.lastRunAt = ctx.clock.now();
    run.startedAt = worker.lastRunAt;
    worker.totals.runs++;
    ctx.breakers.runStarts(run);
    ctx.runner.start(run);
  }
}

function refuseAll(): boolean {
  return false;
}
