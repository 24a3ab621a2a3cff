// The write-behind journal (src/store/journal.ts): changes of one event-loop turn are coalesced into
// one batch, written at the next turn — under load, two batches per BATCH_SPACING_MS at most, each with
// the changes of several turns; flush() waits for the store; a failing write is reported and does not
// stop later batches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { DeadLetter } from '../../src/index.ts';
import { BATCH_SPACING_MS, Journal } from '../../src/store/journal.ts';
import {
  HISTORY_PER_WORKER,
  type RunRecord,
  type Store,
  type StoreChange,
  type StoredRun,
  type StoredState,
  type StoredWorkerState,
} from '../../src/store/store.ts';

/** A Store that records the batches it is given (copies), optionally slowly or failing. */
class RecordingStore implements Store {
  batches: StoreChange[][] = [];
  /** Called before a batch is recorded: may wait, or throw to refuse it. */
  before: ((changes: readonly StoreChange[]) => void | Promise<void>) | undefined;

  open(): StoredState {
    return { runs: [], deadLetters: [], workers: {}, history: [] };
  }

  async apply(changes: readonly StoreChange[]): Promise<void> {
    await this.before?.(changes);
    this.batches.push(structuredClone([...changes]));
  }

  close(): void {}
}

function journal(store: Store = new RecordingStore()): { journal: Journal; errors: unknown[] } {
  const errors: unknown[] = [];
  return { journal: new Journal(store, (error) => errors.push(error)), errors };
}

function run(id: string, extra: Partial<StoredRun> = {}): StoredRun {
  return {
    id,
    seq: 1,
    worker: 'w',
    origin: 'run',
    payload: { id },
    priority: 1,
    enqueuedAt: 1,
    attempts: 0,
    key: undefined,
    replayOf: undefined,
    ...extra,
  };
}

function state(runs: number): StoredWorkerState {
  return {
    manuallyEnabled: true,
    breaker: 'closed',
    consecutiveFailures: 0,
    cooldownUntil: undefined,
    lastRunAt: runs,
    lastSuccessAt: undefined,
    lastEndedAt: undefined,
    lastError: undefined,
    lastFailureReason: undefined,
    totals: { runs, succeeded: runs, failed: 0, retries: 0, timeouts: 0, crashes: 0 },
  };
}

function dead(id: string): DeadLetter {
  return { id, name: 'w', payload: 1, reason: 'error', error: 'E', attempts: 1, failedAt: 'x' };
}

function record(runId: string): RunRecord {
  return {
    worker: 'w',
    runId,
    origin: 'run',
    startedAt: 1,
    endedAt: 2,
    outcome: 'succeeded',
    reason: undefined,
    attempts: 1,
    durationMs: 1,
  };
}

/** Lets the journal's scheduled write (setImmediate) and the store's async apply happen. */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

describe('Journal', () => {
  it('writes nothing in the turn of the change, and one batch at the next turn', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    j.runQueued(run('a'));
    j.runQueued(run('b'));
    j.deadLetter(dead('d'));
    j.history(record('h1'));
    assert.equal(store.batches.length, 0, 'nothing is written synchronously');
    await turns();
    assert.equal(store.batches.length, 1, 'one batch for the whole turn');
    assert.deepEqual(
      store.batches[0]?.map((c) => c.type),
      ['run-queued', 'run-queued', 'dead-letter', 'history'],
    );
    await turns();
    assert.equal(store.batches.length, 1, 'nothing more to write');
  });

  it('under load, a batch takes the changes of several turns: two batches per BATCH_SPACING_MS at most', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    const started = performance.now();
    let turns = 0;
    while (performance.now() - started < 50 * BATCH_SPACING_MS) {
      j.runOver(`r${turns++}`);
      await nextTurn();
    }
    const elapsed = performance.now() - started;
    await j.flush();
    // Every change is written, once, in order.
    const written = store.batches.flat().map((change) => (change as { id: string }).id);
    assert.deepEqual(
      written,
      Array.from({ length: turns }, (_, i) => `r${i}`),
    );
    // Two batches per BATCH_SPACING_MS at most; a timer may fire up to a ms early (libuv's clock is in
    // whole ms), so the bound allows twice that.
    assert.ok(
      store.batches.length <= (4 * elapsed) / BATCH_SPACING_MS + 4,
      `${store.batches.length} batches in ${elapsed.toFixed(1)} ms`,
    );
    assert.ok(turns > store.batches.length, `${turns} turns, ${store.batches.length} batches`);
  });

  it('after a quiet spell, a change is written at the next turn again', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    j.runOver('a');
    await nextTurn();
    await nextTurn();
    assert.equal(store.batches.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 5 * BATCH_SPACING_MS));
    j.runOver('b');
    await nextTurn();
    await nextTurn();
    assert.deepEqual(store.batches, [[{ type: 'run-over', id: 'a' }], [{ type: 'run-over', id: 'b' }]]);
  });

  it('a run queued and over in the same turn is never written', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    j.runQueued(run('a'));
    j.runStarted('a', 1);
    j.runOver('a');
    await j.flush();
    await turns();
    assert.deepEqual(store.batches, [], 'apply is not even called for an empty batch');
  });

  it('started merges into queued: one run-queued with the attempts so far', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    j.runQueued(run('a', { key: 'k' }));
    j.runStarted('a', 1);
    j.runStarted('a', 2);
    await j.flush();
    assert.deepEqual(store.batches, [[{ type: 'run-queued', run: run('a', { key: 'k', attempts: 2 }) }]]);
  });

  it('a run written earlier gets run-started, then run-over (which replaces a start of the same turn)', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    j.runQueued(run('a'));
    await j.flush();
    j.runStarted('a', 1);
    await j.flush();
    j.runStarted('a', 2);
    j.runOver('a');
    await j.flush();
    assert.deepEqual(store.batches, [
      [{ type: 'run-queued', run: run('a') }],
      [{ type: 'run-started', id: 'a', attempts: 1 }],
      [{ type: 'run-over', id: 'a' }],
    ]);
  });

  it("a worker's state is written once per turn, with its latest value", async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    let runs = 0;
    let reads = 0;
    const read = () => {
      reads++;
      return state(runs);
    };
    for (let i = 0; i < 5; i++) {
      runs++;
      j.worker('w', read);
    }
    j.worker('v', () => state(100));
    runs++; // changed after the last call: the value at write time is the one stored
    await turns();
    assert.equal(reads, 1, 'read once, when the batch is written');
    assert.deepEqual(store.batches, [
      [
        { type: 'worker', name: 'w', state: state(6) },
        { type: 'worker', name: 'v', state: state(100) },
      ],
    ]);
    runs++;
    j.worker('w', read);
    await turns();
    assert.deepEqual(store.batches[1], [{ type: 'worker', name: 'w', state: state(7) }]);
  });

  it('a dead letter recorded and removed in one turn is written as a removal', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    j.deadLetter(dead('x'));
    j.deadLetterRemoved('x');
    j.deadLetterRemoved('y');
    j.deadLetter(dead('y'));
    await j.flush();
    assert.deepEqual(store.batches, [
      [
        { type: 'dead-letter-removed', id: 'x' },
        { type: 'dead-letter', entry: dead('y') },
      ],
    ]);
  });

  it('history records are all written, in order', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    for (const id of ['h1', 'h2', 'h3']) j.history(record(id));
    await j.flush();
    assert.deepEqual(
      store.batches[0]?.map((c) => (c.type === 'history' ? c.record.runId : c.type)),
      ['h1', 'h2', 'h3'],
    );
  });

  it("a batch carries each worker's newest history records only, however many came before it", async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    // Runs that end in microtasks never let the batch go: 1,000 records of one worker, 5 of another.
    const b: string[] = [];
    for (let i = 0; i < 1000; i++) {
      j.history(record(`a${i}`));
      if (i % 200 === 0) {
        b.push(`b${i}`);
        j.history({ ...record(`b${i}`), worker: 'v' });
      }
    }
    await j.flush();
    const newestOfA = Array.from(
      { length: HISTORY_PER_WORKER },
      (_, i) => `a${1000 - HISTORY_PER_WORKER + i}`,
    );
    const written = (store.batches[0] ?? []).map((c) => (c.type === 'history' ? c.record.runId : c.type));
    assert.deepEqual(written, [...b, ...newestOfA], 'the newest of each worker, in the order they came');
  });

  it('flush() resolves only after the store applied the batch, and after every earlier batch', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    const delays = [60, 5];
    store.before = () => new Promise((resolve) => setTimeout(resolve, delays.shift() ?? 0));
    j.runQueued(run('slow'));
    await turns(1); // the first batch (slow) is being written
    j.runQueued(run('fast'));
    await j.flush();
    assert.deepEqual(
      store.batches.map((b) => b.map((c) => (c.type === 'run-queued' ? c.run.id : c.type))),
      [['slow'], ['fast']],
      'both batches applied, in order, when flush() resolves',
    );
    // Nothing pending: flush() still resolves.
    await j.flush();
  });

  it('flush() with nothing pending resolves without calling the store', async () => {
    const store = new RecordingStore();
    const { journal: j } = journal(store);
    await j.flush();
    assert.equal(store.batches.length, 0);
  });

  it('an apply that throws is reported to onError, and later batches are still written', async () => {
    const store = new RecordingStore();
    const { journal: j, errors } = journal(store);
    const refusal = new Error('disk full');
    store.before = (changes) => {
      if (changes.some((c) => c.type === 'run-queued' && c.run.id === 'doomed')) throw refusal;
    };
    j.runQueued(run('doomed'));
    await j.flush(); // resolves (does not reject) although the write failed
    assert.deepEqual(errors, [refusal]);
    j.runQueued(run('next'));
    await turns();
    j.runQueued(run('last'));
    await j.flush();
    assert.deepEqual(
      store.batches.map((b) => b.map((c) => (c.type === 'run-queued' ? c.run.id : c.type))),
      [['next'], ['last']],
    );
    assert.equal(errors.length, 1);
  });

  it('a synchronous throw from apply is reported the same way', async () => {
    const errors: unknown[] = [];
    const batches: StoreChange[][] = [];
    let fail = true;
    const store: Store = {
      open: () => ({ runs: [], deadLetters: [], workers: {}, history: [] }),
      apply: (changes) => {
        if (fail) {
          fail = false;
          throw new Error('sync refusal');
        }
        batches.push([...changes]);
      },
      close: () => undefined,
    };
    const j = new Journal(store, (error) => errors.push(error));
    j.runOver('a');
    await j.flush();
    j.runOver('b');
    await j.flush();
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /sync refusal/);
    assert.deepEqual(batches, [[{ type: 'run-over', id: 'b' }]]);
  });
});
