import type { Logger } from 'pino';
import type { Clock, TimerHandle } from './clock.ts';
import type { Completion } from './completion.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import { ORIGINS, type Run } from './run.ts';
import type { StopReport } from './types.ts';

export interface ShutdownContext {
  clock: Clock;
  log: Logger;
  queue: WorkQueue;
  completion: Completion;
  shutdownTimeoutMs: number;
  /** Stops every timer that could start something: schedules, breaker cooldowns. */
  stopTimers(): void;
  /** Ends every sandbox, the health sampler and the reaper; writes and releases the store. */
  release(): Promise<void>;
}

/**
 * The graceful stop, once the orchestrator is 'stopping': settles what waits (kept for the next start
 * by a durable queue, dropped otherwise), lets the runs in flight finish for up to `shutdownTimeoutMs`,
 * aborts the rest (their sandboxes are killed), and releases every resource.
 */
export async function shutdown(ctx: ShutdownContext): Promise<StopReport> {
  // Sandboxes do not hold the event loop open on their own; stop() must not end with the host.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    return await stopNow(ctx);
  } finally {
    clearInterval(keepAlive);
  }
}

async function stopNow(ctx: ShutdownContext): Promise<StopReport> {
  const { queue, completion } = ctx;
  ctx.stopTimers();
  const completed: string[] = [];
  const terminated: string[] = [];
  const terminatedRuns = new Set<Run>();
  let idle: (() => void) | undefined;
  completion.watch((run, handedOff) => {
    if (!terminatedRuns.has(run) && handedOff !== true) completed.push(run.worker.name);
    if (queue.inFlight.size === 0) idle?.();
  });
  const shutdownError = new Error('the orchestrator stopped before the run could finish');

  let dropped = 0;
  let requeued = 0;
  for (const run of queue.drain()) {
    // Kept in the store for the next start; this process's caller learns it did not run here.
    if (queue.keepForNextStart(run)) requeued++;
    else if (ORIGINS[run.origin].droppedByStop) dropped++;
    completion.finish(run, { ok: false, reason: 'aborted', error: shutdownError, attempts: run.attempt });
  }

  if (queue.inFlight.size > 0) {
    const allEnded = new Promise<void>((resolve) => {
      idle = resolve;
    });
    let graceTimer: TimerHandle | undefined;
    const graceOver = new Promise<void>((resolve) => {
      graceTimer = ctx.clock.setTimeout(resolve, ctx.shutdownTimeoutMs);
    });
    await Promise.race([allEnded, graceOver]);
    if (graceTimer !== undefined) ctx.clock.clearTimeout(graceTimer);
    for (const run of [...queue.inFlight]) {
      terminatedRuns.add(run);
      terminated.push(run.worker.name);
      // At-least-once: a requested run cut short by stop() runs again after the next start.
      if (queue.keepForNextStart(run)) requeued++;
      completion.abort(run, shutdownError);
    }
    if (queue.inFlight.size > 0) await allEnded;
  }
  completion.watch(undefined);
  // Only now: a run failing during the grace period may have opened a breaker.
  ctx.stopTimers();
  await ctx.release();
  return { completed, terminated, requeued, dropped };
}
