// Type-level tests, checked by `npm run typecheck` (never executed): they pin the public signatures
// of the README's API, so a change that breaks users' code fails the build.
import {
  type DeadLetter,
  JobPriority,
  OrchestratorError,
  type OrchestratorStatus,
  type RunContext,
  RunError,
  type StopReport,
  Supervisor,
  type WorkerConfig,
  WorkerExecutionMode,
  type WorkerOrchestrator,
} from '../src/index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}

const orch: WorkerOrchestrator = new Supervisor({ maxConcurrentWorkers: 2, logger: false });
orch.registerWorker('f', (ctx: RunContext) => ctx.payload, { executionMode: WorkerExecutionMode.TRIGGERED });
orch.registerWorker('m', new URL('file:///tmp/x.mjs'), { isolation: 'process', priority: JobPriority.HIGH });
orch.registerWorker('p', './x.mjs', { breakerCooldownSeconds: null, dependsOn: ['f'], blocks: ['m'] });

expectType<Equal<ReturnType<typeof orch.start>, Promise<void>>>(true);
expectType<Equal<ReturnType<typeof orch.stop>, Promise<StopReport>>>(true);
expectType<Equal<ReturnType<typeof orch.triggerWorker>, Promise<boolean>>>(true);
expectType<Equal<ReturnType<typeof orch.run>, Promise<unknown>>>(true);
expectType<Equal<ReturnType<typeof orch.getStatus>, OrchestratorStatus>>(true);
expectType<Equal<ReturnType<typeof orch.getWorker>, Readonly<WorkerConfig> | undefined>>(true);
expectType<Equal<ReturnType<typeof orch.deadLetters.list>, DeadLetter[]>>(true);
expectType<Equal<ReturnType<typeof orch.deadLetters.replay>, Promise<unknown>>>(true);
expectType<Equal<ReturnType<typeof orch.deadLetters.remove>, boolean>>(true);
expectType<
  Equal<StopReport, { completed: string[]; terminated: string[]; requeued: number; dropped: number }>
>(true);
expectType<Equal<OrchestratorStatus['state'], 'stopped' | 'running' | 'stopping'>>(true);
const critical: 3 = JobPriority.CRITICAL;
expectType<Equal<typeof critical, 3>>(true);
expectType<Equal<`${WorkerExecutionMode}`, 'scheduled' | 'triggered' | 'continuous'>>(true);

orch.on('worker:failure', (event) => {
  expectType<Equal<typeof event.willRetry, boolean>>(true);
  expectType<Equal<typeof event.reason, RunError['reason']>>(true);
});
orch.on('worker:dead-letter', ({ entry }) => expectType<Equal<typeof entry, DeadLetter>>(true));
orch.on('orchestrator:stopped', (report) => expectType<Equal<typeof report, StopReport>>(true));
// The payload type of a worker function, the result type of run(), execution modes as strings.
orch.registerWorker('typed', (ctx: RunContext<{ month: string }>) => ctx.payload.month.length, {
  executionMode: 'triggered',
});
orch.registerWorker('loop', () => undefined, { executionMode: 'continuous', concurrency: 2 });
expectType<Equal<ReturnType<typeof orch.run<number>>, Promise<number>>>(true);
expectType<Equal<RunContext['payload'], unknown>>(true);
// @ts-expect-error: not an execution mode
orch.registerWorker('bad', () => undefined, { executionMode: 'sometimes' });
// @ts-expect-error: not an event of the orchestrator
orch.on('worker:unknown-event', () => undefined);

const error = new OrchestratorError('ERR_QUEUE_FULL', 'full');
expectType<Equal<typeof error.code, OrchestratorError['code']>>(true);
// @ts-expect-error: codes are a closed set
new OrchestratorError('ERR_SOMETHING_ELSE', 'x');
const runError = new RunError('w', 'timeout', 2, new Error('late'));
expectType<Equal<typeof runError.attempts, number>>(true);
