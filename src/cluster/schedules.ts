import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { backoffDelay } from '../retry.ts';
import type { RunOutcome } from '../run.ts';
import { WorkerExecutionMode } from '../types.ts';
import type { WorkerRecord } from '../worker-record.ts';
import type { ClusterKeys } from './keys.ts';
import type { Lane } from './lane.ts';
import { evalScript, LuaScript } from './lua.ts';

/** Where a run of a worker's own schedule sits: its chain (an interval, or one continuous loop) and step. */
export interface ChainStep {
  slot: number;
  /** An interval's due time (epoch ms, Redis's clock), or a loop's step number. */
  n: number;
}

export interface SchedulesContext {
  redis: Redis;
  keys: ClusterKeys;
  log: Logger;
  hostId: string;
  /** Ids of the live hosts (this one included). */
  liveHosts(): Promise<string[]>;
  /** Adds a run of the worker's own to its queue; a job with the same id already there makes it a no-op. */
  add(lane: Lane, jobId: string, step: ChainStep | undefined, delayMs: number): Promise<void>;
}

/** The job scheduler that BullMQ keeps for a cron worker. */
export const CRON_SCHEDULER = 'corral-cron';

/**
 * Scheduled and continuous workers in a cluster, so that each due time fires once whatever the number
 * of hosts (README: "Running on several machines").
 *
 * - **Intervals**: Redis keeps the next due time (`chain:<worker>:0`). Each due time is one delayed job
 *   whose id is made of it (`i-<due>`): every host that makes sure the schedule goes on adds the same job,
 *   and BullMQ keeps one. When the run ends, the host that ran it moves the due time to `intervalSeconds`
 *   after the end (by Redis's clock, compare-and-set from the run's own due time) and adds that job,
 *   before reporting the run: a host dying in between leaves the run to be re-run, never the schedule lost.
 * - **Cron**: BullMQ's job scheduler (`upsertJobScheduler`), which fires each cron time once.
 * - **Continuous**: `concurrency` chains (one per loop), each a sequence of jobs `c<slot>-<step>`.
 */
export class ClusterSchedules {
  readonly #ctx: SchedulesContext;

  constructor(context: SchedulesContext) {
    this.#ctx = context;
  }

  /** At start (or registration): puts the worker's schedule in Redis if it is not there already. */
  async ensure(lane: Lane): Promise<void> {
    const { worker } = lane;
    const { options } = worker;
    if (options.executionMode === WorkerExecutionMode.SCHEDULED) {
      if (options.cron !== undefined) {
        await lane.queue.upsertJobScheduler(
          CRON_SCHEDULER,
          { pattern: options.cron, tz: Intl.DateTimeFormat().resolvedOptions().timeZone },
          { name: lane.queue.name, data: { origin: 'schedule' } },
        );
        return;
      }
      await lane.queue.removeJobScheduler(CRON_SCHEDULER);
      await this.#ensureInterval(lane);
    } else if (options.executionMode === WorkerExecutionMode.CONTINUOUS) {
      for (let slot = 0; slot < options.concurrency; slot++) {
        const n = Number(await evalScript(this.#ctx.redis, ENSURE, 1, this.#chain(worker, slot), '0', '0'));
        await this.#ctx.add(lane, loopId(slot, n), { slot, n }, 0);
      }
    }
  }

  /**
   * A run of the worker's own ended (not handed back): the next step of its chain, added before the run
   * is reported. Nothing to do for cron (BullMQ adds the next time when a run is fetched).
   */
  async advance(lane: Lane, step: ChainStep, outcome: RunOutcome): Promise<void> {
    const { worker } = lane;
    const mode = worker.options.executionMode;
    if (mode === WorkerExecutionMode.SCHEDULED) {
      const intervalMs = worker.options.intervalSeconds * 1000;
      const result = (await evalScript(
        this.#ctx.redis,
        ADVANCE_BY_TIME,
        1,
        this.#chain(worker, step.slot),
        String(step.n),
        String(intervalMs),
      )) as [number, number];
      const [next, now] = result.map(Number) as [number, number];
      // 0: the chain moved on already (this run was a re-run after its host died): nothing to add.
      if (next !== 0) await this.#ctx.add(lane, intervalId(next), { slot: step.slot, n: next }, next - now);
    } else if (mode === WorkerExecutionMode.CONTINUOUS) {
      const next = step.n + 1;
      const moved = Number(
        await evalScript(
          this.#ctx.redis,
          ADVANCE,
          1,
          this.#chain(worker, step.slot),
          String(step.n),
          String(next),
        ),
      );
      if (moved !== 1) return;
      // After a failure a loop waits out a backoff (README: Semantics), counted from its failures in a row.
      const delay = outcome.ok ? 0 : backoffDelay(worker.options.retryDelayMs, 2);
      await this.#ctx.add(lane, loopId(step.slot, next), { slot: step.slot, n: next }, delay);
    }
  }

  /** When the worker's next scheduled run is due (intervals: Redis's due time; cron: the scheduler's next). */
  async dueAt(workers: WorkerRecord[]): Promise<Map<WorkerRecord, number>> {
    const { redis, keys } = this.#ctx;
    const read = redis.multi();
    const asked: WorkerRecord[] = [];
    for (const worker of workers) {
      if (worker.options.executionMode !== WorkerExecutionMode.SCHEDULED) continue;
      asked.push(worker);
      if (worker.options.cron !== undefined) read.zscore(keys.bull(worker.name, 'repeat'), CRON_SCHEDULER);
      else read.get(this.#chain(worker, 0));
    }
    const due = new Map<WorkerRecord, number>();
    if (asked.length === 0) return due;
    const results = (await read.exec()) ?? [];
    asked.forEach((worker, i) => {
      const value = results[i]?.[1];
      if (value !== null && value !== undefined) due.set(worker, Number(value));
    });
    return due;
  }

  async #ensureInterval(lane: Lane): Promise<void> {
    const { worker } = lane;
    const key = this.#chain(worker, 0);
    // First start ever: due now (an interval worker runs at start); else the due time Redis remembers.
    const [dueText, nowText] = (await evalScript(this.#ctx.redis, ENSURE, 1, key, 'now', '1')) as [
      string,
      number,
    ];
    let due = Number(dueText);
    const now = Number(nowText);
    if (due < now && worker.options.missedRuns === 'skip' && (await this.#alone())) {
      // No host was up when it fell due: skip to the next due time still ahead.
      const stale = (await lane.queue.getJob(intervalId(due))) as Job | undefined;
      const state = stale === undefined ? undefined : await stale.getState();
      if (stale === undefined || state === 'delayed' || state === 'waiting' || state === 'completed') {
        const intervalMs = worker.options.intervalSeconds * 1000;
        const next = due + Math.ceil((now - due) / intervalMs) * intervalMs;
        const moved = Number(await evalScript(this.#ctx.redis, ADVANCE, 1, key, String(due), String(next)));
        if (moved === 1) {
          if (state === 'delayed' || state === 'waiting') await stale?.remove().catch(() => undefined);
          due = next;
        } else {
          due = Number(await this.#ctx.redis.get(key));
        }
      }
    }
    await this.#ctx.add(lane, intervalId(due), { slot: 0, n: due }, Math.max(0, due - now));
  }

  async #alone(): Promise<boolean> {
    const hosts = await this.#ctx.liveHosts();
    return hosts.every((id) => id === this.#ctx.hostId);
  }

  #chain(worker: WorkerRecord, slot: number): string {
    return this.#ctx.keys.chain(worker.name, slot);
  }
}

export function intervalId(due: number): string {
  return `i-${due}`;
}

export function loopId(slot: number, n: number): string {
  return `c${slot}-${n}`;
}

/**
 * The chain's current step, set to ARGV[1] if there is none ('now': Redis's time in ms). With ARGV[2]
 * '1' it returns { step, now }, else the step.
 */
const ENSURE = new LuaScript(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local step = redis.call('GET', KEYS[1])
if not step then
  step = ARGV[1]
  if step == 'now' then step = string.format('%.0f', ms) end
  redis.call('SET', KEYS[1], step)
end
if ARGV[2] == '1' then return { step, ms } end
return step
`);

/** Compare-and-set: the chain moves from ARGV[1] to ARGV[2]; 1 if it did. */
const ADVANCE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

/** An interval's chain moves from ARGV[1] to Redis's time + ARGV[2] ms: returns { next or 0, now }. */
const ADVANCE_BY_TIME = new LuaScript(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return { 0, ms } end
local next = ms + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', next))
return { next, ms }
`);
