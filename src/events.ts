import type { FailureReason } from './errors.ts';
import type { DeadLetter, StopReport } from './types.ts';

/** The orchestrator's events and their payloads. */
export interface OrchestratorEvents {
  'worker:start': { name: string; runId: string; attempt: number };
  'worker:success': { name: string; runId: string; attempt: number; durationMs: number; result: unknown };
  'worker:failure': {
    name: string;
    runId: string;
    attempt: number;
    reason: FailureReason;
    error: Error;
    willRetry: boolean;
  };
  /** The breaker opened. */
  'worker:disabled': { name: string; consecutiveFailures: number };
  /** Re-enabled: `enableWorker()` or a successful half-open trial. */
  'worker:enabled': { name: string };
  'worker:dead-letter': { name: string; entry: DeadLetter };
  'orchestrator:started': Record<string, never>;
  'orchestrator:stopped': StopReport;
}

export type OrchestratorEventName = keyof OrchestratorEvents;
export type OrchestratorListener<E extends OrchestratorEventName> = (payload: OrchestratorEvents[E]) => void;

/** Emits an event to each listener on its own (a throwing listener is logged, never propagated). */
export type Emit = <E extends OrchestratorEventName>(event: E, payload: OrchestratorEvents[E]) => void;
