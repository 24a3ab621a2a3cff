import { WorkerOrchestrator } from 'corral';

const orch = new WorkerOrchestrator({ logger: false });
let down = true;
orch.registerWorker(
  'charge',
  (ctx) => {
    if (down) throw new Error(`payment API down for order ${ctx.payload.order}`);
    return 'charged';
  },
  { executionMode: 'triggered', maxRetries: 1, retryDelayMs: 10 },
);
await orch.start();

await orch.run('charge', { order: 42 }).catch((error) => console.log(error.reason, error.message));
const [entry] = orch.deadLetters.list('charge'); // entries, oldest first
console.log(entry.id, entry.payload, entry.attempts, entry.error);

down = false;
console.log(await orch.deadLetters.replay(entry.id)); // runs it again as run() would; removed on success
console.log(orch.deadLetters.remove(entry.id)); // false: the successful replay removed it
await orch.stop();
