import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Run } from '../../src/run.ts';
import { type ReadyItem, ReadyQueue } from '../../src/scheduler/ready-queue.ts';
import { JobPriority } from '../../src/types.ts';
import type { WorkerRecord } from '../../src/worker-record.ts';
import { makeRun, makeWorker } from '../helpers.ts';

/** Queues a run of `worker` with `seq` and offers the worker. */
function enqueue(rq: ReadyQueue, worker: WorkerRecord, seq: number): Run {
  const run = makeRun(worker, seq);
  worker.queue.push(run);
  rq.offerWorker(worker);
  return run;
}

function label(item: ReadyItem | undefined): string | undefined {
  if (item === undefined) return undefined;
  return item.kind === 'retry' ? `retry:${item.run.id}` : `worker:${item.worker.name}`;
}

function drain(rq: ReadyQueue): string[] {
  const out: string[] = [];
  for (let item = rq.pop(); item !== undefined; item = rq.pop()) out.push(label(item) as string);
  return out;
}

describe('ReadyQueue', () => {
  it('is empty at first', () => {
    assert.equal(new ReadyQueue().pop(), undefined);
  });

  it('pops higher priority first', () => {
    const rq = new ReadyQueue();
    enqueue(rq, makeWorker('low', { priority: JobPriority.LOW }), 1);
    enqueue(rq, makeWorker('normal', { priority: JobPriority.NORMAL }), 2);
    enqueue(rq, makeWorker('critical', { priority: JobPriority.CRITICAL }), 3);
    enqueue(rq, makeWorker('high', { priority: JobPriority.HIGH }), 4);
    assert.deepEqual(drain(rq), ['worker:critical', 'worker:high', 'worker:normal', 'worker:low']);
  });

  it('is FIFO within a priority (by the seq of each worker oldest waiting run)', () => {
    const rq = new ReadyQueue();
    enqueue(rq, makeWorker('a'), 5);
    enqueue(rq, makeWorker('b'), 2);
    enqueue(rq, makeWorker('c'), 9);
    enqueue(rq, makeWorker('d'), 3);
    assert.deepEqual(drain(rq), ['worker:b', 'worker:d', 'worker:a', 'worker:c']);
  });

  it('holds a worker once, keyed by its oldest run; it can be offered again after pop', () => {
    const rq = new ReadyQueue();
    const a = makeWorker('a');
    const b = makeWorker('b');
    enqueue(rq, a, 1);
    enqueue(rq, a, 2);
    enqueue(rq, b, 3);
    assert.equal(a.queue.inReadyHeap, true);
    assert.equal(a.queue.readyKey, 1);
    const first = rq.pop();
    assert.equal(label(first), 'worker:a');
    assert.equal(a.queue.inReadyHeap, false);
    // the dispatcher starts a's oldest run and offers it back with its next one (seq 2)
    a.queue.takeStartable(() => true);
    rq.offerWorker(a);
    assert.equal(a.queue.readyKey, 2);
    assert.deepEqual(drain(rq), ['worker:a', 'worker:b']);
  });

  it('does not offer a worker with nothing waiting', () => {
    const rq = new ReadyQueue();
    const idle = makeWorker('idle');
    rq.offerWorker(idle);
    assert.equal(idle.queue.inReadyHeap, false);
    assert.equal(rq.pop(), undefined);
  });

  it('interleaves retries with workers by (priority, seq)', () => {
    const rq = new ReadyQueue();
    const w = makeWorker('w');
    const x = makeWorker('x');
    const hi = makeWorker('hi', { priority: JobPriority.HIGH });
    const lo = makeWorker('lo', { priority: JobPriority.LOW });
    enqueue(rq, w, 5);
    enqueue(rq, x, 8);
    enqueue(rq, lo, 1);
    rq.offerRetry(makeRun(w, 7, 'schedule'));
    rq.offerRetry(makeRun(x, 3, 'trigger'));
    rq.offerRetry(makeRun(lo, 0));
    rq.offerRetry(makeRun(hi, 100));
    enqueue(rq, hi, 50);
    assert.deepEqual(drain(rq), [
      'worker:hi',
      'retry:hi#100',
      'retry:x#3',
      'worker:w',
      'retry:w#7',
      'worker:x',
      'retry:lo#0',
      'worker:lo',
    ]);
  });

  it('offerRetry marks the run retry-ready; a retry cancelled while waiting is skipped', () => {
    const rq = new ReadyQueue();
    const w = makeWorker('w');
    const stale = makeRun(w, 1);
    const live = makeRun(w, 2);
    rq.offerRetry(stale);
    rq.offerRetry(live);
    assert.equal(stale.state, 'retry-ready');
    stale.state = 'done';
    const item = rq.pop();
    assert.equal(label(item), 'retry:w#2');
    assert.equal(rq.pop(), undefined);
  });
});
