import {
  JobPriority,
  OrchestratorError,
  RunError,
  Supervisor,
  WorkerExecutionMode,
  WorkerOrchestrator,
} from 'corral';

console.log(Supervisor === WorkerOrchestrator); // true: another name for it
console.log(WorkerExecutionMode.TRIGGERED, JobPriority.HIGH); // 'triggered' 2
console.log(new OrchestratorError('ERR_NOT_RUNNING', 'stopped') instanceof Error, RunError.name); // true 'RunError'
