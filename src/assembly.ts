/**
 * Builds the parts a run flows through — admission → queue → dispatcher → attempt runner → completion,
 * with the planner, the breakers, persistence and dead letters beside them — and wires each one's
 * callbacks to the others (docs/architecture.md). The orchestrator, the facade, only asks for them.
 */
import type { Logger } from 'pino';
import { Admission } from './admission.ts';
import { AttemptRunner } from './attempt-runner.ts';
import { BreakerController } from './breaker-controller.ts';
import type { Clock } from './clock.ts';
import { ClusterQueue } from './cluster/cluster-queue.ts';
import { Completion } from './completion.ts';
import { DeadLetterQueue } from './dead-letters.ts';
import { Dispatcher } from './dispatcher.ts';
import type { Emit } from './events.ts';
import type { ResolvedOrchestratorOptions } from './options.ts';
import { LocalQueue } from './queue/local-queue.ts';
import type { WorkQueue } from './queue/work-queue.ts';
import { Planner } from './scheduler/planner.ts';
import type { Sequence } from './sequence.ts';
import { Persistence } from './store/persistence.ts';
import type { Store } from './store/store.ts';
import type { WorkerRecord } from './worker-record.ts';

/** What the parts need from the orchestrator that owns them. */
export interface AssemblyContext {
  options: ResolvedOrchestratorOptions;
  /** The `store` option as given (a path, `'memory'`, or a Store). */
  store: string | Store | undefined;
  clock: Clock;
  log: Logger;
  sequence: Sequence;
  workers: ReadonlyMap<string, WorkerRecord>;
  emit: Emit;
  state(): 'stopped' | 'running' | 'stopping';
}

export interface Parts {
  persistence: Persistence;
  deadLetters: DeadLetterQueue;
  /** Cluster mode: the queue shared through Redis (also `queue`); undefined on one host. */
  cluster: ClusterQueue | undefined;
  queue: WorkQueue;
  admission: Admission;
  planner: Planner;
  breakers: BreakerController;
  runner: AttemptRunner;
  dispatcher: Dispatcher;
  completion: Completion;
}

/**
 * The parts, wired. A part's callbacks name parts made after it: they are called only once every part
 * exists (from a run, a timer or start()), never while this function runs.
 */
export function assemble(ctx: AssemblyContext): Parts {
  const { options, clock, log, emit, sequence, workers, state } = ctx;
  const running = () => state() === 'running';
  const dispatch = () => dispatcher.dispatch();
  const save = (worker: WorkerRecord) => persistence.worker(worker);

  const persistence = new Persistence(ctx.store, log);
  const deadLetters = new DeadLetterQueue(
    {
      replay: (entry) => admission.request(entry.name, 'replay', entry.payload, { replayOf: entry.id }),
      stored: (entry) => persistence.deadLetterStored(entry),
      removed: (entry, evicted) => {
        if (evicted) {
          log.warn(
            { worker: entry.name, deadLetter: entry.id },
            'dead-letter queue full: oldest entry dropped',
          );
        }
        persistence.deadLetterRemoved(entry.id, () => deadLetters.remove(entry.id));
        if (!evicted) cluster?.removeDeadLetter(entry.name, entry.id);
      },
    },
    options.maxDeadLetters,
    options.cluster !== undefined,
  );
  const cluster =
    options.cluster === undefined
      ? undefined
      : new ClusterQueue({
          clock,
          log,
          emit,
          sequence,
          options: options.cluster,
          maxConcurrentWorkers: options.maxConcurrentWorkers,
          deadLetters,
          state,
          worker: (name) => workers.get(name),
          workers: () => workers.values(),
          dispatch,
          deliver: (run, outcome) => completion.delivered(run, outcome),
          refuse: (run, error) => admission.refused(run, error),
          finish: (run, outcome) => completion.finish(run, outcome),
          abort: (run, error) => completion.abort(run, error),
          left: (run) => completion.left(run),
        });
  const queue: WorkQueue =
    cluster ??
    new LocalQueue({ clock, persistence, workers: () => workers.values(), onRetryReady: dispatch });
  const admission = new Admission({
    clock,
    sequence,
    queue,
    state,
    worker: (name) => workers.get(name),
    encode: (payload) => persistence.encode(payload),
    maxPayloadBytes: options.maxPayloadBytes,
    abort: (run, error) => completion.abort(run, error),
    dispatch,
  });
  const planner = new Planner({
    clock,
    running,
    durable: () => queue.durable,
    enqueue: (worker, origin) => admission.enqueue(worker, origin),
    dispatch,
    // Cluster mode: Redis keeps schedules and loops (README: "Running on several machines").
    // Pipelines too: the cluster queue starts them from the dependencies' successes in Redis.
    elsewhere: () => cluster !== undefined,
  });
  const breakers = new BreakerController({
    clock,
    log,
    emit,
    running,
    cancelSchedule: (worker) => planner.cancel(worker),
    trialDue: (worker) => planner.trialDue(worker),
    wake: (worker) => {
      queue.wake(worker);
      dispatch();
    },
    save,
    cooldownElsewhere: options.cluster !== undefined,
  });
  const runner = new AttemptRunner({
    clock,
    log,
    emit,
    queue,
    health: { enabled: options.enableHealthChecks, sampleMs: options.healthSampleMs },
    stopped: () => state() === 'stopped',
    finish: (run, outcome) => completion.finish(run, outcome),
    dispatch,
  });
  const dispatcher = new Dispatcher({
    clock,
    sequence,
    queue,
    runner,
    breakers,
    maxConcurrentWorkers: options.maxConcurrentWorkers,
    state,
  });
  const completion = new Completion({
    clock,
    log,
    emit,
    sequence,
    queue,
    deadLetters,
    breakers,
    running,
    forgetKey: (run) => admission.forget(run),
    history: (record) => persistence.history(record),
    save,
    activate: (worker) => planner.activate(worker, false),
    loopRunFailed: (worker) => planner.loopRunFailed(worker),
    dispatch,
  });
  return {
    persistence,
    deadLetters,
    cluster,
    queue,
    admission,
    planner,
    breakers,
    runner,
    dispatcher,
    completion,
  };
}
