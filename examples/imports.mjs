import {
  JobPriority,
  OrchestratorError,
  RunError,
  Supervisor, // another name for WorkerOrchestrator
  WorkerExecutionMode,
  WorkerOrchestrator,
} from 'corral';
