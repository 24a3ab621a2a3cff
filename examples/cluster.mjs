import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';

const orch = new WorkerOrchestrator({
  maxConcurrentWorkers: 4, // per host
  cluster: {
    redis: process.env.CORRAL_REDIS ?? 'redis://127.0.0.1:6379', // or ioredis options (host, port, password, tls, sentinels...)
    name: 'corral', // hosts with the same Redis and name form one cluster
    // hostId: 'web-1',  // default `${os.hostname()}:${process.pid}`; unique per live host
    execute: true, // false: this host queues, observes and serves, runs nothing
    lockMs: 30_000, // a run whose host stops renewing it this long runs elsewhere
  },
});
orch.registerWorker('report', new URL('./workers/process-batch.mjs', import.meta.url), {
  executionMode: WorkerExecutionMode.TRIGGERED,
  isolation: 'process',
});
await orch.start(); // ERR_STORE if Redis cannot be reached
console.log(await orch.run('report', { month: '2026-11' })); // runs on whichever host has a free slot
console.log(orch.getStatus().cluster); // { name: 'corral', hosts: [ { id, execute, workers, running, lastSeenAt } ] }
await orch.stop();
