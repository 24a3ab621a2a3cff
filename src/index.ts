/** corral: supervise background jobs in a Node.js application. The package's only public entry. */

export type { Clock } from './clock.ts';
export type { DeadLetterControl, OrchestratorControl } from './control.ts';
export { DeadLetterQueue } from './dead-letters.ts';
export {
  type FailureReason,
  OrchestratorError,
  type OrchestratorErrorCode,
  RunError,
} from './errors.ts';
export type { OrchestratorEventName, OrchestratorEvents, OrchestratorListener } from './events.ts';
export { createHttpHandler } from './http/lazy-handler.ts';
export type { HttpHandler, HttpHandlerOptions } from './http/options.ts';
export type { HttpServerHandle, ListenOptions } from './http/server.ts';
export { Supervisor, WorkerOrchestrator } from './orchestrator.ts';
export type {
  RunRecord,
  Store,
  StoreChange,
  StoredRun,
  StoredState,
  StoredWorkerState,
} from './store/store.ts';
export {
  type BreakerState,
  type DeadLetter,
  type ExecutionModeName,
  type Isolation,
  JobPriority,
  type OrchestratorOptions,
  type OrchestratorStatus,
  type ResourceSample,
  type RunContext,
  type RunOptions,
  type RunTotals,
  type StopReport,
  type WorkerConfig,
  WorkerExecutionMode,
  type WorkerFn,
  type WorkerOptions,
  type WorkerStatus,
} from './types.ts';
