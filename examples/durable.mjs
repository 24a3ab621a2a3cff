import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerOrchestrator } from 'corral';

// One SQLite file keeps queued runs, dead letters, breakers and last-run times across restarts.
const store = join(mkdtempSync(join(tmpdir(), 'corral-')), 'corral.db');
const report = async (ctx) => {
  await sleep(200, undefined, { signal: ctx.signal });
  return `report ${ctx.payload.n} sent`;
};

const first = new WorkerOrchestrator({ store, logger: false, shutdownTimeoutMs: 0 });
first.registerWorker('report', report, { executionMode: 'triggered' }); // one run at a time
await first.start();
const callers = [1, 2, 3].map((n) => first.run('report', { n }).catch((error) => error.reason));
console.log(await first.stop()); // requeued: 3 — the run cut short and the two waiting
console.log(await Promise.all(callers)); // [ 'aborted', 'aborted', 'aborted' ]: not run by this process

const second = new WorkerOrchestrator({ store, logger: false });
second.registerWorker('report', report, { executionMode: 'triggered' });
let done = 0;
const allDone = new Promise((resolve) => second.on('worker:success', () => ++done === 3 && resolve()));
await second.start(); // takes the three kept runs back, in their order
await allDone;
// The history is kept too: [ 'aborted', 'succeeded', 'succeeded', 'succeeded' ]
console.log(second.getHistory('report').map((r) => r.outcome));
await second.stop();
