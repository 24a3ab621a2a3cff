/**
 * The part of an orchestrator that its control surfaces (the HTTP API and dashboard, the CLI's client
 * commands) use: read the state, trigger, enable/disable, handle dead letters, follow the events.
 * `WorkerOrchestrator` implements it; the HTTP layer depends on this interface only, so it can be
 * tested against a stand-in and cannot reach into the scheduler or the sandboxes.
 */
import type { OrchestratorEventName, OrchestratorListener } from './events.ts';
import type { RunRecord } from './store/store.ts';
import type { DeadLetter, OrchestratorStatus, WorkerConfig } from './types.ts';

/** What the control surfaces do with the dead-letter queue (`orch.deadLetters`). */
export interface DeadLetterControl {
  /** Entries, oldest first; only those of worker `name` when given. */
  list(name?: string): DeadLetter[];
  /** One entry, or `undefined`. */
  get(id: string): DeadLetter | undefined;
  /** Runs the entry again as `run()` would; removed on success. */
  replay(id: string): Promise<unknown>;
  /** `false` when there is no such entry. */
  remove(id: string): boolean;
}

/** A worker event of another cluster host, as `/events` sends it. */
export interface RemoteEvent {
  /** The host where it happened. */
  host: string;
  event: OrchestratorEventName;
  /** The payload's JSON, with `host` in it. */
  data: string;
}

/**
 * Cluster mode: the worker events of the other hosts, so that `/events` on any host shows the whole
 * cluster (README: "Running on several machines").
 */
export interface ClusterEventFeed {
  /** This host's id: `/events` adds it as `host` to this host's own events. */
  readonly hostId: string;
  /** Calls `listener` with each event of another host from now on, until the returned function is called. */
  follow(listener: (event: RemoteEvent) => void): () => void;
}

/**
 * The orchestrator as the HTTP handler (`createHttpHandler`) sees it. A `WorkerOrchestrator` is one;
 * so is anything with these members (a proxy to another process, a test double).
 */
export interface OrchestratorControl {
  getStatus(): OrchestratorStatus;
  getWorker(name: string): Readonly<WorkerConfig> | undefined;
  /** The latest finished runs, oldest first: of one worker, or of all. */
  getHistory(name?: string): RunRecord[];
  readonly deadLetters: DeadLetterControl;
  /** `false` for an unknown or disabled worker; else resolves `true` once the queued run has ended. */
  triggerWorker(name: string, payload?: unknown): Promise<boolean>;
  enableWorker(name: string): void;
  disableWorker(name: string): void;
  on<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): unknown;
  off<E extends OrchestratorEventName>(event: E, listener: OrchestratorListener<E>): unknown;
  /** Cluster mode only: the other hosts' events. */
  readonly clusterEvents?: ClusterEventFeed | undefined;
}
