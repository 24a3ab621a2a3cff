import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { DeadLetterQueue } from '../dead-letters.ts';
import { describeError, OrchestratorError } from '../errors.ts';
import type { Emit, OrchestratorEventName, OrchestratorEvents } from '../events.ts';
import type { StartGate, WorkQueue } from '../queue/work-queue.ts';
import { newRun, ORIGINS, type Run, type RunOrigin, type RunOutcome } from '../run.ts';
import { relinkAll } from '../scheduler/links.ts';
import type { Sequence } from '../sequence.ts';
import { type ResolvedWorkerOptions, WorkerExecutionMode } from '../types.ts';
import type { WorkerRecord } from '../worker-record.ts';
import { ClusterBreakers } from './breakers.ts';
import { ClusterDependencies } from './dependencies.ts';
import type * as Engine from './engine.ts';
import { EventFeed, EventRelay } from './event-feed.ts';
import { HostRegistry } from './host-registry.ts';
import { ClusterKeys } from './keys.ts';
import { Lane } from './lane.ts';
import { ExclusionLeases, needsLease } from './leases.ts';
import { evalScript, LuaScript } from './lua.ts';
import { ClusterMirror } from './mirror.ts';
import { Notifier, type QueueEvent } from './notifier.ts';
import type { ResolvedClusterOptions } from './options.ts';
import {
  decodeFailure,
  decodeResult,
  type EncodedFailure,
  encodeResult,
  failureOutcome,
  finalError,
} from './outcome.ts';
import { type ChainStep, ClusterSchedules } from './schedules.ts';
import { adoption, differing, type SharedOptions, sharedOptions } from './shared-options.ts';

export interface ClusterQueueContext {
  clock: Clock;
  log: Logger;
  emit: Emit;
  sequence: Sequence;
  options: ResolvedClusterOptions;
  maxConcurrentWorkers: number;
  deadLetters: DeadLetterQueue;
  state(): 'stopped' | 'running' | 'stopping';
  worker(name: string): WorkerRecord | undefined;
  workers(): Iterable<WorkerRecord>;
  dispatch(): void;
  /** A run asked for here ended on some host: tell its callers (completion's `delivered`). */
  deliver(run: Run, outcome: RunOutcome): void;
  /** A run asked for here could not be queued in the cluster after all (admission's `refused`). */
  refuse(run: Run, error: Error): void;
  /** A fetched run that is over before it starts (its last attempt died with its host): completion. */
  finish(run: Run, outcome: RunOutcome): void;
  /** Cancels a run this host holds, wherever it is here (completion's `abort`). */
  abort(run: Run, error: Error): void;
  /** An in-flight run was handed back to the cluster for its retry: no longer in flight here. */
  left(run: Run): void;
}

/** What a job carries besides BullMQ's own fields. */
interface JobData {
  origin: RunOrigin;
  payload?: unknown;
  /** A run of an interval or a continuous loop: where it sits in its chain (schedules.ts). */
  step?: ChainStep;
}

/** A job this host fetched: its lock token, and the lane it came from. */
interface Held {
  job: Job<JobData>;
  token: string;
  lane: Lane;
  /** It holds its worker against `blocks` partners (leases.ts) under its token. */
  exclusive: boolean;
  /** Its caller cancelled it: it ends as aborted, and leaves Redis (neither retried nor a dead letter). */
  cancelled?: boolean;
}

/** corral decides retries (retry.ts); BullMQ counts the attempts and waits out the backoff. */
const ATTEMPTS = 2 ** 31 - 1;
/** How long finished jobs stay in Redis: outcomes can be looked up after a reconnection. */
const KEEP_FINISHED = { age: 3600, count: 10_000 };
/**
 * Runs of a worker's own schedule stay longer: a host adding the job of a due time that already ran
 * finds it there and adds nothing (its id is the due time), so no due time runs twice.
 */
const KEEP_SCHEDULED = { age: 24 * 3600 };
/** BullMQ's per-queue event stream length: long enough that a busy queue's outcomes are not trimmed unread. */
const EVENTS_MAX_LEN = 100_000;

/**
 * The cluster's queue (docs/architecture.md, "The queue seam"): one BullMQ queue per worker on a shared
 * Redis. The dispatcher, the attempt runner and completion see the same `WorkQueue` as on one host:
 *
 * - `add` sends a run to the cluster (asynchronously); the caller's run stays here as a handle that
 *   completion's `delivered` settles when the cluster's event says how the run ended, wherever it ran.
 * - This host fetches runs itself (`getNextJob`, manual fetching) into a small buffer, only while it
 *   has free slots, from the best lane its gates allow: higher priority first, then the oldest run.
 *   `next` hands out of that buffer synchronously. Fetches are driven by events (one blocking XREAD
 *   over every lane's stream) and by timers at the due times of delayed jobs; a read that ends quiet
 *   (2 s) is a second chance for a missed notification, not a poll of Redis for work.
 * - `retryAfter` hands the run back to BullMQ (its backoff is a delayed job), so the retry may run on
 *   any host; `settle` reports the outcome (completed, failed, or back to the queue when stopped).
 */
export class ClusterQueue implements WorkQueue {
  readonly durable = false;
  readonly #ctx: ClusterQueueContext;
  readonly #keys: ClusterKeys;
  /** The other hosts' events, for this host's `/events` clients. */
  readonly events: EventFeed;
  /** Runs asked for on this host, by job id, until the cluster reports their end. */
  readonly #pending = new Map<string, Run>();
  readonly #jobOf = new Map<Run, string>();
  /**
   * Replays whose job id has a past: events about the job's earlier failure may still be on their way,
   * so outcomes count only after the 'waiting' event of this retry (the stream keeps their order).
   */
  readonly #unarmed = new Set<string>();
  /** Fetched, waiting for a slot and their gates. */
  readonly #buffer: Run[] = [];
  readonly #inFlight = new Set<Run>();
  readonly #held = new Map<Run, Held>();
  readonly #lanes = new Map<string, Lane>();
  readonly #lanesByStream = new Map<string, Lane>();
  /** Per worker, the cluster-wide options this host runs it with (JSON, as recorded in Redis). */
  readonly #adopted = new Map<WorkerRecord, string>();
  /** Per worker, those of this host's own registration (kept across stop and start). */
  readonly #registered = new Map<WorkerRecord, string>();
  /** The backoff corral chose for a job about to be handed back for its retry. */
  readonly #backoffs = new Map<string, number>();
  /** Redis writes not yet acknowledged: awaited before the connection closes. */
  readonly #writes = new Set<Promise<unknown>>();
  #engine: typeof Engine | undefined;
  #redis: Redis | undefined;
  #notifier: Notifier | undefined;
  #registry: HostRegistry | undefined;
  #mirror: ClusterMirror | undefined;
  #schedules: ClusterSchedules | undefined;
  #breakers: ClusterBreakers | undefined;
  #leases: ExclusionLeases | undefined;
  #deps: ClusterDependencies | undefined;
  #relay: EventRelay | undefined;
  #lockTimer: NodeJS.Timeout | undefined;
  #tokens = 0;
  /**
   * Runs that ended here whose report Redis has not acknowledged yet: they keep their slot until then,
   * so the next fetch sees their worker's cluster-wide `concurrency` freed (and priority holds).
   */
  #finishing = 0;
  #pumping = false;
  #pumpAgain = false;
  #draining = false;

  constructor(context: ClusterQueueContext) {
    this.#ctx = context;
    this.#keys = new ClusterKeys(context.options.name);
    this.events = new EventFeed(context.options.hostId, this.#keys.events, context.log);
  }

  get inFlight(): ReadonlySet<Run> {
    return this.#inFlight;
  }

  /** The hosts and the figures summed over them, for `getStatus()` (undefined until started). */
  get mirror(): ClusterMirror | undefined {
    return this.#mirror;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Connects (ERR_STORE if Redis cannot be used or the host id is taken) and starts taking runs. */
  async open(): Promise<void> {
    const { options, log } = this.#ctx;
    this.#draining = false;
    this.#engine ??= await import('./engine.ts');
    const redis = await this.#engine.connectRedis(options.redis);
    let quiet = false;
    redis.on('error', (error: Error) => {
      if (!quiet) log.warn({ err: error }, 'cluster: Redis connection error (reconnecting)');
      quiet = true;
    });
    redis.on('ready', () => {
      if (quiet) log.info('cluster: Redis connection back');
      quiet = false;
      this.#reconnected();
    });
    this.#redis = redis;
    let claimed = false;
    try {
      this.#registry = new HostRegistry(redis, this.#keys, options.hostId, options.lockMs);
      const registry = this.#registry;
      this.#schedules = new ClusterSchedules({
        redis,
        keys: this.#keys,
        log,
        hostId: options.hostId,
        liveHosts: async () => (await registry.list()).map((host) => host.id),
        add: (lane, jobId, step, delayMs) => this.#addOwn(lane, jobId, step, delayMs),
      });
      this.#breakers = new ClusterBreakers({
        redis,
        keys: this.#keys,
        log,
        emit: this.#ctx.emit,
        hostId: options.hostId,
        lockMs: options.lockMs,
        wake: (worker) => {
          this.wake(worker);
          this.#ctx.dispatch();
        },
      });
      this.#leases = new ExclusionLeases(redis, this.#keys, options.lockMs);
      this.#deps = new ClusterDependencies(redis, this.#keys);
      this.#mirror = new ClusterMirror({
        breakers: this.#breakers,
        schedules: this.#schedules,
        redis,
        keys: this.#keys,
        registry: this.#registry,
        options,
        log,
        lanes: () => this.#lanes.values(),
        workers: () => this.#ctx.workers(),
        inFlight: () => this.#inFlight,
        watching: () => this.events.followed,
        adopt: (worker, text) => this.#adopt(worker, text),
      });
      const mirror = this.#mirror;
      this.#relay = new EventRelay(redis, this.#keys.events, options.hostId, log, () =>
        mirror.othersWatching(),
      );
      await this.#registry.claim(this.#mirror.beat());
      claimed = true;
      this.#notifier = new Notifier(
        redis.duplicate(),
        log,
        (stream, event) => this.#onEvent(stream, event),
        () => this.#quiet(),
      );
      for (const worker of this.#ctx.workers()) this.#lane(worker);
      await Promise.all([...this.#lanes.values()].map((lane) => lane.ready));
      await this.#loadDeadLetters();
      await this.#mirror.refresh();
      this.#mirror.start();
      this.events.attach(redis);
      this.#lockTimer = setInterval(() => this.#extendLocks(), Math.max(250, Math.floor(options.lockMs / 3)));
      this.#lockTimer.unref();
    } catch (error) {
      // Only a host that claimed its id may delete it: another live host may own it.
      if (!claimed) this.#registry = undefined;
      await this.close();
      if (error instanceof OrchestratorError) throw error;
      throw new OrchestratorError('ERR_STORE', `cluster: cannot start on Redis: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  /** Leaves the cluster: writes what is pending, unregisters the host, closes every connection. */
  async close(): Promise<void> {
    this.#draining = true;
    if (this.#lockTimer !== undefined) clearInterval(this.#lockTimer);
    this.#lockTimer = undefined;
    // Bounded: with Redis gone, writes wait for a reconnection that may never come.
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while (this.#writes.size > 0 && Date.now() < deadline) {
      await bounded(Promise.allSettled([...this.#writes]), deadline - Date.now());
    }
    if (this.#writes.size > 0) {
      this.#ctx.log.warn(
        { writes: this.#writes.size },
        'cluster: Redis unreachable at stop: reports not written',
      );
    }
    await bounded(this.#relay?.flush(), Math.max(100, deadline - Date.now()));
    this.events.detach();
    await bounded(this.#mirror?.stop(), Math.max(100, deadline - Date.now()));
    await bounded(this.#registry?.leave(), Math.max(100, deadline - Date.now()));
    for (const lane of this.#lanes.values()) {
      lane.clearDue();
      if (lane.heldTimer !== undefined) clearTimeout(lane.heldTimer);
    }
    await bounded(
      Promise.allSettled(
        [...this.#lanes.values()].flatMap((lane) => [lane.fetcher?.close(), lane.queue.close()]),
      ),
      2000,
    );
    this.#lanes.clear();
    this.#lanesByStream.clear();
    await this.#notifier?.close();
    this.#redis?.disconnect();
    this.#redis = undefined;
    this.#notifier = undefined;
    this.#registry = undefined;
    this.#mirror = undefined;
    this.#schedules = undefined;
    this.#breakers = undefined;
    this.#leases = undefined;
    this.#deps = undefined;
    this.#relay = undefined;
    this.#adopted.clear();
    this.#pending.clear();
    this.#jobOf.clear();
    this.#unarmed.clear();
  }

  /** An event of this host: relayed to the other hosts while one of them has `/events` clients. */
  relay<E extends OrchestratorEventName>(event: E, payload: OrchestratorEvents[E]): void {
    this.#relay?.publish(event, payload);
  }

  // ---- the WorkQueue seam ----------------------------------------------------------------------

  /** Redis is the store: a run taken back from a durable store cannot happen in cluster mode. */
  addRestored(run: Run): void {
    this.add(run);
  }

  add(run: Run): void {
    const jobId = run.replayOf ?? run.id;
    this.#pending.set(jobId, run);
    this.#jobOf.set(run, jobId);
    if (run.replayOf !== undefined) this.#unarmed.add(jobId);
    this.#write(
      this.#send(run, jobId).catch((error: unknown) => {
        if (this.#pending.get(jobId) !== run) return;
        this.#forgetPending(jobId, run);
        const refusal =
          error instanceof OrchestratorError
            ? error
            : new OrchestratorError(
                'ERR_STORE',
                `cluster: the run could not be queued: ${describeError(error)}`,
                {
                  cause: error,
                },
              );
        this.#ctx.refuse(run, refusal);
      }),
    );
  }

  withdraw(run: Run): boolean {
    const jobId = this.#jobOf.get(run);
    if (jobId !== undefined) {
      this.#forgetPending(jobId, run);
      const lane = this.#lanes.get(run.worker.name);
      // Removed if it still waits (or waits out a backoff). A run taken by a host cannot be removed
      // (it is locked): that host is told on the queue's event stream and ends it (#cancelled).
      if (lane !== undefined) {
        this.#write(
          lane.queue.remove(jobId).then(
            (removed) => (removed === 1 ? undefined : this.#tellCancel(run.worker, jobId)),
            () => this.#tellCancel(run.worker, jobId),
          ),
        );
      }
      return true;
    }
    return false;
  }

  next(canStart: StartGate): Run | undefined {
    let best = -1;
    for (let i = 0; i < this.#buffer.length; i++) {
      const run = this.#buffer[i] as Run;
      // Dependency freshness was settled in Redis when the run was taken (#startWithDeps): the local
      // sequence numbers know only this host's runs, so the gate looks at it as at a requested run.
      const gated =
        run.worker.deps.length > 0 && ORIGINS[run.origin].needsFreshDeps
          ? { ...run, origin: 'run' as const }
          : run;
      if (!canStart(run.worker, gated)) continue;
      if (best === -1 || before(run, this.#buffer[best] as Run)) best = i;
    }
    if (best === -1) {
      this.#pump();
      return undefined;
    }
    const [run] = this.#buffer.splice(best, 1);
    return run;
  }

  wake(worker: WorkerRecord): void {
    const lane = this.#lanes.get(worker.name);
    if (lane !== undefined) this.#unhold(lane);
    this.#pump();
  }

  /** `enableWorker` / `disableWorker` here: for every host. */
  setEnabled(worker: WorkerRecord, enabled: boolean): void {
    const breakers = this.#breakers;
    if (breakers === undefined) return;
    this.#write(
      breakers
        .setEnabled(worker, enabled)
        .catch((error: unknown) => this.#ctx.log.warn({ err: error }, 'cluster: enable/disable not written')),
    );
  }

  begin(run: Run): void {
    run.state = 'running';
    run.worker.inFlight++;
    if (run.origin === 'schedule') run.worker.scheduledInFlight++;
    this.#inFlight.add(run);
    // A retry continues a run that was counted when its first attempt started (maybe on another host).
    if (run.attempt > 0) run.worker.totals.runs--;
  }

  attemptStarted(_run: Run): void {}

  retryAfter(run: Run, delayMs: number, error?: Error): void {
    const held = this.#held.get(run);
    this.#release(run);
    run.state = 'done';
    this.#ctx.left(run);
    if (held === undefined) return;
    this.#backoffs.set(held.job.id as string, delayMs);
    this.#releaseLease(held);
    const cause = new Error(error === undefined ? 'attempt failed' : describeError(error));
    this.#report(
      held.job
        .moveToFailed(cause, held.token)
        .catch((e: unknown) => this.#lost(held, e))
        .finally(() => this.#backoffs.delete(held.job.id as string)),
    );
  }

  cancelRetry(_run: Run): boolean {
    // Retries wait in the cluster, never here.
    return false;
  }

  settle(run: Run, outcome?: RunOutcome): void {
    const jobId = this.#jobOf.get(run);
    if (jobId !== undefined) {
      this.#forgetPending(jobId, run);
      return;
    }
    const held = this.#held.get(run);
    if (held === undefined) return;
    this.#release(run);
    if (held.cancelled === true) {
      this.#report(this.#drop(held, run));
    } else if (outcome === undefined || (!outcome.ok && outcome.reason === 'aborted')) {
      // Stopped here (or refused before it began): back to the queue for the other hosts. The attempt
      // counter goes back first, while this host still holds the lock, so the hand-back is not counted
      // as an attempt (nor taken for a crash) by whoever fetches it next.
      this.#report(this.#handBack(held, run));
    } else {
      this.#report(this.#ended(run, held, outcome));
    }
  }

  /**
   * Reports how a run ended; a run of a schedule or loop first puts its next step in Redis. The count of
   * the run's end is sent without waiting for its reply: Redis runs the commands of one connection in
   * the order they were sent, so it is in before the report, one round trip in all.
   */
  async #ended(run: Run, held: Held, outcome: RunOutcome): Promise<void> {
    this.#releaseLease(held);
    // The breaker's count, and a success's mark that dependents anywhere compare (dependencies.ts):
    // in Redis before the run is reported.
    const counted = this.#breakers?.record(run.worker, outcome.ok, run.isTrial).catch((error: unknown) => {
      this.#ctx.log.warn(
        { err: error, worker: run.worker.name },
        'cluster: the end of a run could not be counted (breaker, dependents)',
      );
    });
    const step = held.job.data?.step;
    if (step !== undefined) {
      await this.#schedules?.advance(held.lane, step, outcome).catch((error: unknown) => {
        this.#ctx.log.error(
          { err: error, worker: run.worker.name },
          'cluster: the next scheduled run could not be queued',
        );
      });
    }
    await this.#tellOutcome(held, run, outcome);
    await counted;
  }

  /** The run's outcome to BullMQ: completed, or failed (retried by BullMQ or a dead letter). */
  async #tellOutcome(held: Held, run: Run, outcome: RunOutcome): Promise<void> {
    const { job, token } = held;
    // The lane's next run, when the report took it (see #takesNextWith).
    let next: unknown;
    try {
      if (outcome.ok) {
        try {
          const fetchNext = this.#takesNextWith(held.lane);
          next = await job.moveToCompleted(encodeResult(outcome.value), token, fetchNext);
          if (!fetchNext) next = undefined;
        } catch (error) {
          if (!(error instanceof TypeError || error instanceof SyntaxError)) throw error;
          const cause = new Error(`its result cannot be sent as JSON: ${error.message}`);
          await job.moveToFailed(finalError(this.#failure(run, 'error', cause)), token);
        }
      } else {
        await job.moveToFailed(
          finalError(this.#failure(run, outcome.reason, outcome.error, outcome.attempts)),
          token,
        );
      }
    } catch (error) {
      this.#lost(held, error);
    }
    if (next !== undefined) {
      await this.#acceptNext(next, held.lane, token).catch((error: unknown) =>
        this.#ctx.log.warn(
          { err: error, worker: run.worker.name },
          'cluster: the next run could not be taken',
        ),
      );
    }
  }

  /**
   * Whether the report of a run of `lane` may also take the lane's next run (BullMQ's fetch with the
   * report: one round trip instead of two). Only where a fetch now would surely take that lane: the host
   * has a slot free once this run is reported and is not fetching already, nothing waits in the buffer,
   * the lane is the only one of the best priority with work, and its gates here have nothing to ask
   * Redis (closed breaker, no `blocks` lease, no dependencies) nor a schedule's next step to add (a
   * triggered worker: BullMQ's job schedulers add cron's next run on a fetch of their own).
   */
  #takesNextWith(lane: Lane): boolean {
    const { worker } = lane;
    if (
      this.#pumping ||
      this.#buffer.length > 0 ||
      !this.#canFetch() ||
      worker.options.executionMode !== WorkerExecutionMode.TRIGGERED ||
      worker.breaker.state !== 'closed' ||
      worker.deps.length > 0 ||
      needsLease(worker)
    ) {
      return false;
    }
    const best = this.#bestLanes();
    return best.length === 1 && best[0] === lane;
  }

  /**
   * The run BullMQ handed back with a report (`moveToCompleted` with fetchNext), if there was one. Made
   * into a job by the fetcher as its own fetches are (which also adds a job scheduler's next run).
   */
  async #acceptNext(next: unknown, lane: Lane, token: string): Promise<void> {
    if (!Array.isArray(next) || !next[0] || !next[1]) return;
    // `nextJobFromJobData` is what BullMQ's Worker calls with such a reply; protected in its types.
    const fetcher = lane.fetcher as unknown as {
      nextJobFromJobData(data: unknown, id: string, token: string): Promise<Job<JobData> | undefined>;
    };
    const job = await fetcher.nextJobFromJobData(next[0], String(next[1]), token);
    if (job !== undefined) this.#accept(job, token, lane, false);
  }

  /** A cancelled run leaves Redis: failed (as aborted, not a dead letter), then removed. */
  async #drop(held: Held, run: Run): Promise<void> {
    this.#releaseLease(held);
    if (run.isTrial) await this.#breakers?.release(run.worker).catch(() => undefined);
    try {
      const failure = {
        ...this.#failure(run, 'aborted', new Error('cancelled by its caller')),
        requested: false,
      };
      await held.job.moveToFailed(finalError(failure), held.token);
      await held.job.remove();
    } catch (error) {
      this.#lost(held, error);
    }
  }

  /** Adds a run of a worker's own (a due time, a loop step); the same id twice is one job. */
  async #addOwn(lane: Lane, jobId: string, step: ChainStep | undefined, delayMs: number): Promise<void> {
    const { executionMode } = lane.worker.options;
    const data: JobData = {
      origin: executionMode === WorkerExecutionMode.CONTINUOUS ? 'continuous' : 'schedule',
    };
    if (step !== undefined) data.step = step;
    await lane.queue.add(lane.queue.name, data, {
      jobId,
      delay: Math.max(0, delayMs),
      attempts: ATTEMPTS,
      backoff: { type: 'corral' },
      removeOnComplete: KEEP_SCHEDULED,
      removeOnFail: KEEP_SCHEDULED,
    });
  }

  keepForNextStart(run: Run): boolean {
    // Whatever this host leaves stays queued in the cluster for the other hosts.
    if (!this.#held.has(run) && !this.#jobOf.has(run)) return false;
    run.kept = true;
    return true;
  }

  drain(): Run[] {
    this.#draining = true;
    const runs = [...this.#pending.values(), ...this.#buffer];
    this.#buffer.length = 0;
    return runs;
  }

  waiting(worker: WorkerRecord): number {
    return this.#lanes.get(worker.name)?.waiting ?? 0;
  }

  waitingRequests(_worker: WorkerRecord): number {
    // maxQueue is checked against the whole cluster when the run is sent (see #send).
    return 0;
  }

  /** `deadLetters.remove()` on this host: the entry (a failed job) leaves the cluster. */
  removeDeadLetter(name: string, id: string): void {
    const lane = this.#lanes.get(name);
    if (lane === undefined) return;
    this.#write(lane.queue.remove(id).catch(() => 0));
  }

  // ---- sending ---------------------------------------------------------------------------------

  async #send(run: Run, jobId: string): Promise<void> {
    const lane = this.#lane(run.worker);
    await lane.ready;
    if (run.replayOf !== undefined) {
      const job = (await lane.queue.getJob(jobId)) as Job<JobData> | undefined;
      if (job === undefined || !(await job.isFailed())) {
        throw new OrchestratorError('ERR_UNKNOWN_DEAD_LETTER', `no dead letter with id "${jobId}"`);
      }
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return;
    }
    const { maxQueue } = run.worker.options;
    if (!ORIGINS[run.origin].requested) {
      await this.#addRequested(lane, run, jobId);
      return;
    }
    // Far below the limit (the mirror's count, at most a refresh old, plus what this host sent since and
    // is sending): sent at once, no round trip for a count (README: maxQueue in a cluster).
    if ((lane.waiting + lane.sent + lane.sending) * 2 < maxQueue) {
      lane.sending++;
      try {
        await this.#addRequested(lane, run, jobId);
        lane.sent++;
      } finally {
        lane.sendEnded();
      }
      return;
    }
    // Near it: one send at a time on this host, each checked against Redis's count once the sends
    // under way have landed, so that a burst of run() calls cannot pass it.
    const turn = lane.sendTurn.then(async () => {
      await lane.sendsLanded();
      const waiting = await lane.queue.getWaitingCount();
      // One host cannot know whether a slot is free elsewhere: maxQueue 0 lets one run wait.
      if (waiting >= Math.max(1, maxQueue)) {
        throw new OrchestratorError(
          'ERR_QUEUE_FULL',
          `worker "${run.worker.name}" already has ${waiting} queued run(s) in the cluster (maxQueue ${maxQueue})`,
        );
      }
      await this.#addRequested(lane, run, jobId);
      lane.sent++;
    });
    lane.sendTurn = turn.catch(() => undefined);
    await turn;
  }

  async #addRequested(lane: Lane, run: Run, jobId: string): Promise<void> {
    const data: JobData = { origin: run.origin };
    if (run.payload !== undefined) data.payload = run.payload;
    const job = await lane.queue.add(lane.queue.name, data, {
      jobId,
      attempts: ATTEMPTS,
      backoff: { type: 'corral' },
      removeOnComplete: KEEP_FINISHED,
      // A requested run that fails its last attempt stays in the failed set: it is the dead letter.
      removeOnFail: ORIGINS[run.origin].requested ? false : KEEP_FINISHED,
      // `key`: BullMQ's deduplication id, for as long as the run it names is queued or running.
      ...(run.key === undefined ? {} : { deduplication: { id: run.key } }),
    });
    const joined = job.id as string;
    if (joined === jobId || this.#pending.get(jobId) !== run) return;
    // Another host queued a run with this key: this caller joins it (README: keys).
    this.#forgetPending(jobId, run);
    this.#pending.set(joined, run);
    this.#jobOf.set(run, joined);
    // It may have ended before this host was listening for it.
    const existing = (await lane.queue.getJob(joined)) as Job<JobData> | undefined;
    if (existing?.finishedOn !== undefined && existing.finishedOn !== null) {
      const failure = decodeFailure(existing.failedReason);
      this.#delivered(
        joined,
        failure === undefined
          ? { ok: true, value: decodeResult(existing.returnvalue) }
          : failureOutcome(failure),
      );
    }
  }

  // ---- fetching --------------------------------------------------------------------------------

  /** Fetches while this host has free slots; one fetch loop at a time, re-run when asked meanwhile. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (!this.#canFetch()) return;
    this.#pumping = true;
    void this.#fetch()
      .catch((error: unknown) => this.#ctx.log.warn({ err: error }, 'cluster: fetching runs failed'))
      .finally(() => {
        this.#pumping = false;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#pump();
        }
      });
  }

  #canFetch(): boolean {
    return (
      this.#ctx.options.execute &&
      !this.#draining &&
      this.#redis?.status === 'ready' &&
      this.#ctx.state() === 'running' &&
      this.#inFlight.size + this.#buffer.length + this.#finishing < this.#ctx.maxConcurrentWorkers
    );
  }

  async #fetch(): Promise<void> {
    for (;;) {
      this.#pumpAgain = false;
      while (this.#canFetch()) {
        const lane = await this.#pick();
        if (lane === undefined || !this.#canFetch()) break;
        const token = `${this.#ctx.options.hostId}:${++this.#tokens}`;
        const { worker } = lane;
        if (
          worker.breaker.state === 'half-open' &&
          !(await (this.#breakers as ClusterBreakers).mayTry(worker))
        ) {
          this.#hold(lane);
          continue;
        }
        const exclusive = needsLease(worker);
        if (exclusive && !(await (this.#leases as ExclusionLeases).acquire(worker, token))) {
          this.#hold(lane);
          continue;
        }
        const epoch = lane.epoch;
        // This fetch moves every due delayed job of the lane to its wait list (BullMQ does it there).
        lane.dueReady = undefined;
        const job = (await (lane.fetcher as NonNullable<Lane['fetcher']>).getNextJob(token, {
          block: false,
        })) as Job<JobData> | undefined;
        if (job === undefined) {
          if (exclusive) await (this.#leases as ExclusionLeases).release(worker, token);
          lane.foundNothing(epoch);
          continue;
        }
        if (worker.deps.length > 0 && !(await this.#startWithDeps(job, token, lane, exclusive))) continue;
        this.#accept(job, token, lane, exclusive);
      }
      if (!this.#pumpAgain) return;
    }
  }

  /**
   * A run of a worker with `dependsOn` starts (its start counted in Redis) if its dependencies are fresh
   * or it does not need them to be (a requested run); else it is parked — a delayed job far ahead, listed
   * for the next success of a dependency to bring back (#wakeDependents). False when it was parked.
   */
  async #startWithDeps(job: Job<JobData>, token: string, lane: Lane, exclusive: boolean): Promise<boolean> {
    const { worker } = lane;
    const deps = this.#deps as ClusterDependencies;
    const origin = job.data?.origin ?? 'run';
    if (await deps.start(worker, ORIGINS[origin].needsFreshDeps)) return true;
    const held: Held = { job, token, lane, exclusive };
    this.#releaseLease(held);
    await deps.park(worker, job.id as string);
    await (this.#redis as Redis).hincrby(this.#keys.job(worker.name, job.id as string), 'ats', -1);
    await job.moveToDelayed(Date.now() + PARK_MS, token);
    // A dependency may have succeeded meanwhile: its wake-up would have missed this run.
    if (await deps.fresh(worker)) await this.#wakeDependent(worker);
    return false;
  }

  /** A dependency of these workers succeeded: parked runs come back, pipelines that are due are queued. */
  #wakeDependents(lane: Lane): void {
    for (const dependent of lane.worker.dependents) {
      this.#write(
        this.#wakeDependent(dependent).catch((error: unknown) =>
          this.#ctx.log.warn({ err: error, worker: dependent.name }, 'cluster: dependents not woken'),
        ),
      );
    }
  }

  async #wakeDependent(worker: WorkerRecord): Promise<void> {
    const deps = this.#deps as ClusterDependencies;
    const lane = this.#lane(worker);
    for (const id of await deps.unpark(worker)) {
      const job = (await lane.queue.getJob(id)) as Job<JobData> | undefined;
      await job?.promote().catch(() => undefined);
    }
    if (worker.options.executionMode === WorkerExecutionMode.TRIGGERED && (await deps.pipelineDue(worker))) {
      await lane.queue.add(
        lane.queue.name,
        { origin: 'pipeline' },
        {
          jobId: `p-${randomUUID()}`,
          attempts: ATTEMPTS,
          backoff: { type: 'corral' },
          removeOnComplete: KEEP_FINISHED,
          removeOnFail: false,
          // One pipeline run waits at a time; one more is kept while one runs (as on one host).
          deduplication: { id: 'corral-pipeline', keepLastIfActive: true },
        },
      );
    }
  }

  /**
   * The lane to fetch from: gates open here, highest priority, then the one whose head waited longest.
   * Lanes found empty on the way are marked idle and the next priority is looked at.
   */
  async #pick(): Promise<Lane | undefined> {
    for (;;) {
      const top = this.#bestLanes();
      if (top.length <= 1) return top[0];
      // Several lanes of one priority: ask Redis for the enqueue time of each one's oldest waiting run.
      const epochs = top.map((lane) => lane.epoch);
      const times = await this.#heads(top);
      let pick: Lane | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      let emptied = 0;
      top.forEach((lane, i) => {
        const ts = times[i] ?? 0;
        const at = ts > 0 ? ts : (lane.dueReady ?? 0);
        if (at === 0) {
          lane.foundNothing(epochs[i] as number);
          if (lane.idle) emptied++;
          return;
        }
        if (at < oldest) {
          oldest = at;
          pick = lane;
        }
      });
      // All of them were empty: look at the next priority now (it would otherwise wait for an event).
      // If events stirred them meanwhile, the pump that those events asked for looks again instead.
      if (pick !== undefined || emptied === 0) return pick;
    }
  }

  /** The lanes that may hold work and whose gates are open, of the highest priority among them. */
  #bestLanes(): Lane[] {
    let top: Lane[] = [];
    for (const worker of this.#ctx.workers()) {
      const lane = this.#lane(worker);
      if (lane.fetcher === undefined || lane.idle || lane.held || !this.#gatesOpen(worker)) continue;
      const priority = worker.options.priority;
      const best = top[0]?.worker.options.priority;
      if (best === undefined || priority > best) top = [lane];
      else if (priority === best) top.push(lane);
    }
    return top;
  }

  async #heads(lanes: Lane[]): Promise<number[]> {
    const redis = this.#redis as Redis;
    const keys = lanes.map((lane) => this.#keys.bull(lane.worker.name, 'wait'));
    const prefixes = lanes.map((lane) => this.#keys.job(lane.worker.name, ''));
    const result = (await evalScript(redis, HEADS_SCRIPT, keys.length, ...keys, ...prefixes)) as number[];
    return result.map(Number);
  }

  /** Local gates checked before taking a run, so a fetched run can start (scheduler/gates.ts decides at start). */
  #gatesOpen(worker: WorkerRecord): boolean {
    if (!worker.enabled || !worker.breaker.canStart()) return false;
    let buffered = 0;
    for (const run of this.#buffer) if (run.worker === worker) buffered++;
    if (worker.inFlight + buffered >= worker.options.concurrency) return false;
    for (const other of worker.exclusive) if (other.inFlight > 0) return false;
    for (const dep of worker.deps) if (dep.inFlight > 0) return false;
    return true;
  }

  /** A fetched job becomes a run of this host; attempts that died with their host count as crashes. */
  #accept(job: Job<JobData>, token: string, lane: Lane, exclusive: boolean): void {
    const { worker } = lane;
    const data = job.data ?? { origin: 'run' };
    const done = Math.max(0, job.attemptsStarted - 1);
    const run = newRun({
      id: job.id as string,
      worker,
      payload: data.payload,
      origin: data.origin,
      seq: this.#ctx.sequence.next(),
      startedAt: this.#ctx.clock.now(),
      enqueuedAt: job.timestamp,
      attempt: done,
      // A requested run's dead letter is its job: a failure records (or updates) the entry of this id,
      // a success removes it if the run was a replay.
      replayOf: ORIGINS[data.origin].requested ? (job.id as string) : undefined,
    });
    const held: Held = { job, token, lane, exclusive };
    this.#held.set(run, held);
    if (this.#draining) {
      // Fetched while this host began to stop: straight back to the queue for the other hosts.
      this.#held.delete(run);
      this.#report(this.#handBack(held, run));
      return;
    }
    const crashed = done - job.attemptsMade;
    if (crashed > 0 && this.#crashed(run, crashed)) return;
    this.#buffer.push(run);
    this.#ctx.dispatch();
  }

  /**
   * `crashed` attempts of the run started on a host that died before reporting them: each is a failed
   * attempt with reason `crash`. True when the last of them was the run's last attempt: it fails here.
   */
  #crashed(run: Run, crashed: number): boolean {
    const { worker } = run;
    const { maxRetries } = worker.options;
    const error = new Error('its host stopped renewing the run (the host crashed or lost Redis for lockMs)');
    for (let k = run.attempt - crashed + 1; k <= run.attempt; k++) {
      const willRetry = k <= maxRetries;
      worker.totals.crashes++;
      if (willRetry) worker.totals.retries++;
      this.#ctx.log.warn(
        { worker: worker.name, runId: run.id, attempt: k, reason: 'crash', willRetry },
        `attempt failed: ${error.message}`,
      );
      this.#ctx.emit('worker:failure', {
        name: worker.name,
        runId: run.id,
        attempt: k,
        reason: 'crash',
        error,
        willRetry,
      });
    }
    if (run.attempt <= maxRetries) return false;
    this.#ctx.finish(run, { ok: false, reason: 'crash', error, attempts: run.attempt });
    return true;
  }

  #release(run: Run): void {
    this.#held.delete(run);
    const i = this.#buffer.indexOf(run);
    if (i !== -1) this.#buffer.splice(i, 1);
    if (!this.#inFlight.delete(run)) return;
    run.worker.inFlight--;
    if (run.origin === 'schedule') run.worker.scheduledInFlight--;
  }

  async #handBack(held: Held, run: Run): Promise<void> {
    this.#releaseLease(held);
    if (run.isTrial) await this.#breakers?.release(run.worker).catch(() => undefined);
    try {
      await (this.#redis as Redis).hincrby(
        this.#keys.job(held.lane.worker.name, held.job.id as string),
        'ats',
        -1,
      );
      await held.job.moveToWait(held.token);
    } catch (error) {
      this.#lost(held, error);
    }
  }

  #failure(run: Run, reason: EncodedFailure['reason'], error: Error, attempts = run.attempt): EncodedFailure {
    return {
      corral: 1,
      reason,
      error: describeError(error),
      attempts,
      failedAt: new Date(this.#ctx.clock.now()).toISOString(),
      requested: ORIGINS[run.origin].requested,
    };
  }

  /** A write about a job this host no longer holds (its lock expired; it runs elsewhere). */
  #lost(held: Held, error: unknown): void {
    this.#ctx.log.warn(
      { worker: held.lane.worker.name, runId: held.job.id, err: error },
      'cluster: could not report a run (its lock was lost: it may run again elsewhere)',
    );
  }

  #extendLocks(): void {
    this.#breakers?.renew();
    const exclusive: [WorkerRecord, string][] = [];
    for (const held of this.#held.values())
      if (held.exclusive) exclusive.push([held.lane.worker, held.token]);
    this.#leases?.renew(exclusive);
    const byLane = new Map<Lane, Held[]>();
    for (const held of this.#held.values()) {
      const list = byLane.get(held.lane) ?? [];
      list.push(held);
      byLane.set(held.lane, list);
    }
    for (const [lane, list] of byLane) {
      const fetcher = lane.fetcher;
      if (fetcher === undefined) continue;
      const ids = list.map((held) => held.job.id as string);
      const tokens = list.map((held) => held.token);
      fetcher.extendJobLocks(ids, tokens, this.#ctx.options.lockMs).then(
        (failed: unknown) => {
          if (Array.isArray(failed) && failed.length > 0) {
            this.#ctx.log.warn({ worker: lane.worker.name, runs: failed }, 'cluster: run locks lost');
          }
        },
        (error: unknown) => this.#ctx.log.warn({ err: error }, 'cluster: extending run locks failed'),
      );
    }
  }

  // ---- lanes and events ------------------------------------------------------------------------

  #lane(worker: WorkerRecord): Lane {
    const existing = this.#lanes.get(worker.name);
    if (existing !== undefined) return existing;
    const engine = this.#engine as typeof Engine;
    const redis = this.#redis as Redis;
    const { options } = this.#ctx;
    const name = this.#keys.queueName(worker.name);
    const prefix = this.#keys.prefix;
    const queue = new engine.Queue(name, {
      connection: redis,
      prefix,
      streams: { events: { maxLen: EVENTS_MAX_LEN } },
    });
    queue.on('error', (error: Error) => this.#ctx.log.debug({ err: error }, 'cluster: queue error'));
    const fetcher = options.execute
      ? new engine.Worker(name, null, {
          connection: redis,
          prefix,
          autorun: false,
          lockDuration: options.lockMs,
          // A dead host's runs are found within lockMs (its lock expires) plus this.
          stalledInterval: Math.min(4000, Math.floor(options.lockMs / 2)),
          // corral decides what a dead host's attempt costs (#crashed); BullMQ only puts the run back.
          maxStalledCount: ATTEMPTS,
          settings: {
            backoffStrategy: (
              _made: number,
              _type?: string,
              _err?: Error,
              job?: { id?: string | undefined },
            ) => this.#backoffs.get(job?.id as string) ?? 0,
          },
        })
      : undefined;
    fetcher?.on('error', (error: Error) => this.#ctx.log.debug({ err: error }, 'cluster: worker error'));
    const lane = new Lane(worker, queue, fetcher);
    this.#lanes.set(worker.name, lane);
    const stream = this.#keys.bull(worker.name, 'events');
    this.#lanesByStream.set(stream, lane);
    lane.ready = (async () => {
      await (this.#notifier as Notifier).follow(stream);
      await this.#compareOptions(worker);
      await queue.setGlobalConcurrency(worker.options.concurrency);
      await this.#schedules?.ensure(lane);
      await this.#armDue(lane);
      if (fetcher !== undefined) void fetcher.startStalledCheckTimer();
    })();
    lane.ready.then(
      () => this.#pump(),
      (error: unknown) =>
        this.#ctx.log.warn({ err: error, worker: worker.name }, 'cluster: lane setup failed'),
    );
    return lane;
  }

  /**
   * Records this registration's cluster-wide options as the latest, and warns, naming them, about those
   * that differ from the registration before it (another host's, or an earlier version of this one).
   */
  async #compareOptions(worker: WorkerRecord): Promise<void> {
    // This host's own registration, also after it took another's and was stopped and started again.
    const registered = this.#registered.get(worker) ?? JSON.stringify(sharedOptions(worker.options));
    this.#registered.set(worker, registered);
    const text = registered;
    const back = adoption(worker.options, JSON.parse(text) as SharedOptions);
    if (back.changed.length > 0) this.#takeOptions(worker, back.changes, back.changed);
    this.#adopted.set(worker, text);
    const previous = (await (this.#redis as Redis).call(
      'SET',
      this.#keys.options(worker.name),
      text,
      'GET',
    )) as string | null;
    if (previous === null) return;
    const differ = differing(sharedOptions(worker.options), JSON.parse(previous) as SharedOptions);
    if (differ.length > 0) {
      this.#ctx.log.warn(
        { worker: worker.name, options: differ },
        `cluster: worker "${worker.name}" is registered here with other cluster-wide options than before: ${differ.join(', ')}`,
      );
    }
  }

  /**
   * The mirror read the cluster-wide options of `worker`'s latest registration: this host takes them
   * (README: "Running on several machines"), and links workers anew if `blocks` or `dependsOn` moved.
   */
  #adopt(worker: WorkerRecord, text: string | null): void {
    const own = this.#adopted.get(worker);
    // Not before this host recorded its own registration (the lane's setup), which may be the latest.
    if (text === null || own === undefined || own === text) return;
    this.#adopted.set(worker, text);
    const { changes, changed, skipped } = adoption(worker.options, JSON.parse(text) as SharedOptions);
    if (skipped.length > 0) {
      this.#ctx.log.warn(
        { worker: worker.name, options: skipped },
        `cluster: worker "${worker.name}" runs in another mode on the latest host to start: kept here: ${skipped.join(', ')}`,
      );
    }
    if (changed.length === 0) return;
    this.#takeOptions(worker, changes, changed);
    this.#ctx.log.info(
      { worker: worker.name, options: changed },
      `cluster: worker "${worker.name}" takes the latest registration's ${changed.join(', ')}`,
    );
    // What Redis keeps of them is set again too: a host that started at the same moment may have set
    // its own global concurrency or cron scheduler after the latest registration was recorded.
    const lane = this.#lanes.get(worker.name);
    if (lane !== undefined) {
      this.#write(
        (async () => {
          if (changed.includes('concurrency'))
            await lane.queue.setGlobalConcurrency(worker.options.concurrency);
          if (changed.some((key) => key === 'cron' || key === 'intervalSeconds' || key === 'missedRuns')) {
            await this.#schedules?.ensure(lane);
          }
        })().catch((error: unknown) =>
          this.#ctx.log.warn({ err: error, worker: worker.name }, 'cluster: options not set in Redis'),
        ),
      );
    }
    this.wake(worker);
    this.#ctx.dispatch();
  }

  /** Takes `changes` into `worker`'s options; links workers anew if `blocks` or `dependsOn` moved. */
  #takeOptions(
    worker: WorkerRecord,
    changes: Partial<ResolvedWorkerOptions>,
    changed: readonly string[],
  ): void {
    worker.adopt(changes);
    if (changed.includes('blocks') || changed.includes('dependsOn')) {
      relinkAll(new Map([...this.#ctx.workers()].map((w) => [w.name, w])));
    }
  }

  /** A timer at the due time of the lane's earliest delayed job: it may be fetched then. */
  async #armDue(lane: Lane): Promise<void> {
    if (lane.fetcher === undefined) return;
    const first = await (this.#redis as Redis).zrange(
      this.#keys.bull(lane.worker.name, 'delayed'),
      '0',
      '0',
      'WITHSCORES',
    );
    if (first.length < 2) return;
    // BullMQ scores a delayed job with its due time times 0x1000, plus a counter.
    this.#due(lane, Math.floor(Number(first[1]) / 0x1000));
  }

  #due(lane: Lane, at: number): void {
    if (lane.fetcher === undefined || (lane.dueAt !== undefined && lane.dueAt <= at)) return;
    lane.clearDue();
    lane.dueAt = at;
    lane.dueTimer = setTimeout(
      () => {
        lane.clearDue();
        lane.dueReady = at;
        lane.stir();
        this.#pump();
        void this.#armDue(lane).catch(() => undefined);
      },
      Math.max(0, at - Date.now() + 5),
    );
    lane.dueTimer.unref();
  }

  #onEvent(stream: string, event: QueueEvent): void {
    const lane = this.#lanesByStream.get(stream);
    if (lane === undefined) return;
    const jobId = event.jobId;
    switch (event.event) {
      case 'waiting':
        if (jobId !== undefined && event.prev === 'failed') this.#unarmed.delete(jobId);
        if (event.prev === 'active') this.#unholdPartners(lane);
        lane.stir();
        this.#pump();
        break;
      case 'stalled':
        lane.stir();
        this.#pump();
        break;
      case 'delayed':
        // A retry waits out its backoff: the run left its host, so its `blocks` partners may start.
        this.#unholdPartners(lane);
        this.#due(lane, Number(event.delay));
        break;
      case 'completed': {
        lane.stir();
        this.#unholdPartners(lane);
        if (lane.worker.dependents.length > 0) this.#wakeDependents(lane);
        if (jobId !== undefined) {
          this.#ctx.deadLetters.forget(jobId);
          let value: unknown;
          try {
            value = decodeResult(JSON.parse(event.returnvalue ?? 'null'));
          } catch {
            value = undefined;
          }
          this.#delivered(jobId, { ok: true, value });
        }
        this.#pump();
        break;
      }
      case 'failed': {
        lane.stir();
        this.#unholdPartners(lane);
        const failure = decodeFailure(event.failedReason);
        if (jobId !== undefined) {
          const outcome: RunOutcome =
            failure === undefined
              ? { ok: false, reason: 'error', error: new Error(event.failedReason ?? 'failed'), attempts: 0 }
              : failureOutcome(failure);
          const caller = this.#pending.get(jobId);
          if (failure?.requested) this.#mirrorDeadLetter(lane, jobId, failure, caller);
          this.#delivered(jobId, outcome);
        }
        this.#pump();
        break;
      }
      case 'removed':
        if (jobId !== undefined) this.#ctx.deadLetters.forget(jobId);
        break;
      case CANCEL_EVENT:
        if (jobId !== undefined) this.#cancelled(jobId);
        break;
    }
  }

  async #tellCancel(worker: WorkerRecord, jobId: string): Promise<void> {
    await this.#redis
      ?.xadd(this.#keys.bull(worker.name, 'events'), '*', 'event', CANCEL_EVENT, 'jobId', jobId)
      .catch(() => undefined);
  }

  /** The caller of a run this host holds cancelled it: its attempt is ended (reason `aborted`). */
  #cancelled(jobId: string): void {
    for (const [run, held] of this.#held) {
      if (held.job.id !== jobId) continue;
      held.cancelled = true;
      this.#ctx.abort(run, new Error('the run was cancelled by its caller'));
      return;
    }
  }

  /** A cluster-wide gate said no: look again at a wake-up, or once a dead host's lease has lapsed. */
  #hold(lane: Lane): void {
    lane.held = true;
    if (lane.heldTimer !== undefined) return;
    lane.heldTimer = setTimeout(() => this.#unhold(lane), this.#ctx.options.lockMs);
    lane.heldTimer.unref();
  }

  #unhold(lane: Lane): void {
    lane.held = false;
    if (lane.heldTimer !== undefined) clearTimeout(lane.heldTimer);
    lane.heldTimer = undefined;
    this.#pump();
  }

  /** A run of the lane's worker ended somewhere: its `blocks` partners and its dependents may start. */
  #unholdPartners(lane: Lane): void {
    for (const other of [...lane.worker.exclusive, ...lane.worker.dependents]) {
      const partner = this.#lanes.get(other.name);
      if (partner?.held) this.#unhold(partner);
    }
  }

  #releaseLease(held: Held): void {
    if (!held.exclusive) return;
    held.exclusive = false;
    const leases = this.#leases;
    if (leases !== undefined)
      this.#write(leases.release(held.lane.worker, held.token).catch(() => undefined));
  }

  #forgetPending(jobId: string, run: Run): void {
    this.#pending.delete(jobId);
    this.#jobOf.delete(run);
    this.#unarmed.delete(jobId);
  }

  #delivered(jobId: string, outcome: RunOutcome): void {
    const run = this.#pending.get(jobId);
    if (run === undefined || this.#unarmed.has(jobId)) return;
    this.#ctx.deliver(run, outcome);
  }

  #mirrorDeadLetter(lane: Lane, id: string, failure: EncodedFailure, caller: Run | undefined): void {
    const put = (payload: unknown) =>
      this.#ctx.deadLetters.put({
        id,
        name: lane.worker.name,
        payload,
        reason: failure.reason,
        error: failure.error,
        attempts: failure.attempts,
        failedAt: failure.failedAt,
      });
    if (caller !== undefined) {
      put(caller.payload);
      return;
    }
    lane.queue.getJob(id).then(
      (job) => {
        if (job !== undefined && job !== null) put((job.data as JobData).payload);
      },
      () => undefined,
    );
  }

  async #loadDeadLetters(): Promise<void> {
    for (const lane of this.#lanes.values()) {
      const jobs = (await lane.queue.getFailed(0, -1)) as Job<JobData>[];
      for (const job of jobs) {
        const failure = decodeFailure(job.failedReason);
        if (failure === undefined || !failure.requested) continue;
        this.#ctx.deadLetters.put({
          id: job.id as string,
          name: lane.worker.name,
          payload: job.data.payload,
          reason: failure.reason,
          error: failure.error,
          attempts: failure.attempts,
          failedAt: failure.failedAt,
        });
      }
    }
  }

  /** No queue event for a while: look again at every lane this host could fetch from. */
  #quiet(): void {
    if (!this.#canFetch()) return;
    for (const lane of this.#lanes.values()) lane.stir();
    this.#pump();
  }

  /** Redis is back after a loss: look again everywhere (events may have been missed meanwhile). */
  #reconnected(): void {
    for (const lane of this.#lanes.values()) lane.stir();
    this.#pump();
    void this.#recover().catch((error: unknown) =>
      this.#ctx.log.warn({ err: error }, 'cluster: recovery after a Redis loss failed'),
    );
  }

  /**
   * After a Redis loss: what Redis no longer holds (a restart without persistence) is put back — each
   * worker's global concurrency and schedule, and the runs asked for here that are gone (sent again:
   * at least once) — and outcomes whose events were missed meanwhile are delivered from the jobs.
   */
  async #recover(): Promise<void> {
    for (const lane of [...this.#lanes.values()]) {
      await lane.queue.setGlobalConcurrency(lane.worker.options.concurrency);
      await this.#schedules?.ensure(lane);
      await this.#armDue(lane);
    }
    for (const [jobId, run] of [...this.#pending]) {
      if (this.#pending.get(jobId) !== run || this.#unarmed.has(jobId)) continue;
      const lane = this.#lane(run.worker);
      const job = (await lane.queue.getJob(jobId)) as Job<JobData> | undefined;
      if (this.#pending.get(jobId) !== run) continue;
      if (job === undefined || job === null) {
        this.#ctx.log.warn(
          { worker: run.worker.name, runId: jobId },
          'cluster: a queued run was lost by Redis: sent again',
        );
        await this.#addRequested(lane, run, jobId);
      } else if (job.finishedOn !== undefined && job.finishedOn !== null) {
        const failure = decodeFailure(job.failedReason);
        if (failure !== undefined) this.#delivered(jobId, failureOutcome(failure));
        else if (await job.isCompleted())
          this.#delivered(jobId, { ok: true, value: decodeResult(job.returnvalue) });
      }
    }
    this.#pump();
  }

  /** A run's end reported to Redis: its slot is free for fetching once Redis has it. */
  #report(promise: Promise<unknown>): void {
    this.#finishing++;
    this.#write(
      promise.finally(() => {
        this.#finishing--;
        this.#pump();
      }),
    );
  }

  #write(promise: Promise<unknown>): void {
    this.#writes.add(promise);
    void promise.finally(() => this.#writes.delete(promise));
  }
}

/** How far ahead a run waiting for its dependencies is parked (a success brings it back sooner). */
const PARK_MS = 24 * 3600_000;

/** corral's own event on a queue's stream: the caller of a run cancelled it. */
const CANCEL_EVENT = 'corral:cancel';

/** How long `close()` waits for Redis to take what this host still has to write. */
const CLOSE_WAIT_MS = 5000;

/** Waits for `promise` (its failure ignored), at most `ms`. */
async function bounded(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** Better first: higher priority, then enqueued earlier. */
function before(a: Run, b: Run): boolean {
  const pa = a.worker.options.priority;
  const pb = b.worker.options.priority;
  return pa !== pb ? pa > pb : a.enqueuedAt < b.enqueuedAt;
}

/**
 * The enqueue time of the oldest waiting job of each wait list (BullMQ pushes on the left and takes
 * from the right): 0 for an empty list. KEYS: wait lists; ARGV: the job-key prefix of each queue.
 */
const HEADS_SCRIPT = new LuaScript(`
local out = {}
for i, key in ipairs(KEYS) do
  local id = redis.call('LINDEX', key, -1)
  local ts = 0
  if id then ts = tonumber(redis.call('HGET', ARGV[i] .. id, 'timestamp') or '0') or 0 end
  out[i] = ts
end
return out
`);
