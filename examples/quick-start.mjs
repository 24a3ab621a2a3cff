import { JobPriority, WorkerExecutionMode, WorkerOrchestrator } from 'corral';

const orch = new WorkerOrchestrator({ maxConcurrentWorkers: 4 });

// A function runs in the host: cheap, but it cannot be killed (ctx.signal only asks it to stop).
orch.registerWorker('fetch', async (ctx) => fetchBatch(ctx.signal), {
  intervalSeconds: 60, // at start, then 60 s after each run has ended
  priority: JobPriority.HIGH,
});

// A module runs isolated: here in a child process, killed with its children after 30 s.
orch.registerWorker('process', new URL('./workers/process-batch.mjs', import.meta.url), {
  executionMode: WorkerExecutionMode.TRIGGERED,
  dependsOn: ['fetch'], // a pipeline: it also runs, without a payload, each time fetch has succeeded
  isolation: 'process',
  timeoutSeconds: 30,
  memoryLimitMb: 512,
});

orch.on('worker:success', ({ name, result }) => console.log(`${name} succeeded:`, result));
orch.on('worker:failure', ({ name, reason, attempt, willRetry }) =>
  console.warn(`${name} attempt ${attempt} failed (${reason})${willRetry ? ', retrying' : ''}`),
);

// Ctrl-C (SIGINT) or SIGTERM: a graceful stop (see "Health, logging and shutdown"), then the process ends.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    const report = await orch.stop();
    console.log('stopped:', report);
  });
}

await orch.start();
const summary = await orch.run('process', { month: '2026-11' }); // resolves with the worker's result
console.log('run() resolved:', summary);

/** Stands for your own I/O (an HTTP call, a query) that honours the signal. */
async function fetchBatch(signal) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  signal.throwIfAborted();
  return { fetched: 3 };
}
