import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadLetterQueue } from '../../src/dead-letters.ts';
import { OrchestratorError } from '../../src/errors.ts';
import type { DeadLetter } from '../../src/types.ts';

function entry(name: string, n: number, extra: Partial<Omit<DeadLetter, 'id'>> = {}): Omit<DeadLetter, 'id'> {
  return {
    name,
    payload: { n },
    reason: 'error',
    error: `failure ${n}`,
    attempts: 3,
    failedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, n)).toISOString(),
    ...extra,
  };
}

function setup(max = 100) {
  const replayed: DeadLetter[] = [];
  const evicted: DeadLetter[] = [];
  const stored: string[] = [];
  const removed: string[] = [];
  let replayResult: () => Promise<unknown> = () => Promise.resolve('ok');
  const dlq = new DeadLetterQueue(
    {
      replay: (e) => {
        replayed.push(e);
        return replayResult();
      },
      stored: (e) => stored.push(e.id),
      removed: (e, wasEvicted) => {
        if (wasEvicted) evicted.push(e);
        else removed.push(e.id);
      },
    },
    max,
  );
  return {
    dlq,
    replayed,
    evicted,
    stored,
    removed,
    setReplay: (fn: () => Promise<unknown>) => {
      replayResult = fn;
    },
  };
}

describe('DeadLetterQueue', () => {
  it('records entries with a unique id and lists them oldest first', () => {
    const { dlq } = setup();
    const a = dlq.record(entry('a', 1));
    const b = dlq.record(entry('b', 2));
    const a2 = dlq.record(entry('a', 3));
    assert.equal(typeof a.id, 'string');
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.id, a2.id);
    assert.deepEqual(a, { id: a.id, ...entry('a', 1) });
    assert.equal(dlq.size, 3);
    assert.deepEqual(
      dlq.list().map((e) => e.id),
      [a.id, b.id, a2.id],
    );
    assert.deepEqual(
      dlq.list('a').map((e) => e.id),
      [a.id, a2.id],
    );
    assert.deepEqual(dlq.list('nobody'), []);
    assert.deepEqual(dlq.get(b.id), b);
    assert.equal(dlq.get('nope'), undefined);
  });

  it('hands out copies: mutating a listed entry changes nothing inside', () => {
    const { dlq } = setup();
    const a = dlq.record(entry('a', 1));
    a.attempts = 99;
    const [listed] = dlq.list();
    assert.ok(listed);
    listed.error = 'tampered';
    const got = dlq.get(a.id);
    assert.ok(got);
    got.name = 'tampered';
    assert.deepEqual(dlq.list()[0], { id: a.id, ...entry('a', 1) });
  });

  it('remove deletes once', () => {
    const { dlq } = setup();
    const a = dlq.record(entry('a', 1));
    const b = dlq.record(entry('b', 2));
    assert.equal(dlq.remove(a.id), true);
    assert.equal(dlq.remove(a.id), false);
    assert.equal(dlq.remove('unknown'), false);
    assert.deepEqual(
      dlq.list().map((e) => e.id),
      [b.id],
    );
  });

  it('replay hands a copy of the entry to the replayer and settles with its result; the entry stays', async () => {
    const { dlq, replayed } = setup();
    const a = dlq.record(entry('a', 1));
    assert.equal(await dlq.replay(a.id), 'ok');
    assert.deepEqual(replayed, [a]);
    replayed[0]!.payload = 'mutated';
    assert.deepEqual(dlq.get(a.id)?.payload, { n: 1 });
    // removal on success is the orchestrator's step (remove)
    assert.equal(dlq.remove(a.id), true);
    assert.equal(dlq.size, 0);
  });

  it('replay of an unknown id rejects with ERR_UNKNOWN_DEAD_LETTER', async () => {
    const { dlq, replayed } = setup();
    await assert.rejects(dlq.replay('missing'), (error: unknown) => {
      assert.ok(error instanceof OrchestratorError);
      assert.equal(error.code, 'ERR_UNKNOWN_DEAD_LETTER');
      assert.ok(error.message.includes('missing'));
      return true;
    });
    assert.equal(replayed.length, 0);
  });

  it('replay rejects with the replayer error', async () => {
    const { dlq, setReplay } = setup();
    const a = dlq.record(entry('a', 1));
    setReplay(() => Promise.reject(new Error('again')));
    await assert.rejects(dlq.replay(a.id), /again/);
    assert.equal(dlq.size, 1);
  });

  it('a failed replay updates its entry in place: same id, one entry, new attempts/error/time', () => {
    const { dlq } = setup();
    const a = dlq.record(entry('a', 1));
    const b = dlq.record(entry('b', 2));
    const updated = dlq.record(
      entry('a', 1, {
        attempts: 5,
        error: 'failed again',
        reason: 'timeout',
        failedAt: '2024-02-01T00:00:00.000Z',
      }),
      a.id,
    );
    assert.equal(updated.id, a.id);
    assert.equal(dlq.size, 2);
    assert.deepEqual(dlq.get(a.id), {
      id: a.id,
      name: 'a',
      payload: { n: 1 },
      reason: 'timeout',
      error: 'failed again',
      attempts: 5,
      failedAt: '2024-02-01T00:00:00.000Z',
    });
    assert.deepEqual(
      dlq.list().map((e) => e.id),
      [a.id, b.id],
    );
  });

  it('a failed replay whose entry was removed meanwhile is recorded anew', () => {
    const { dlq } = setup();
    const a = dlq.record(entry('a', 1));
    dlq.remove(a.id);
    const again = dlq.record(entry('a', 1, { attempts: 4 }), a.id);
    assert.notEqual(again.id, a.id);
    assert.equal(dlq.size, 1);
    assert.equal(dlq.get(again.id)?.attempts, 4);
  });

  it('beyond max, the oldest entry is evicted and reported to onEvicted', () => {
    const { dlq, evicted } = setup(2);
    const a = dlq.record(entry('a', 1));
    const b = dlq.record(entry('b', 2));
    assert.equal(evicted.length, 0);
    const c = dlq.record(entry('c', 3));
    assert.equal(dlq.size, 2);
    assert.deepEqual(evicted, [a]);
    assert.deepEqual(
      dlq.list().map((e) => e.id),
      [b.id, c.id],
    );
    assert.equal(dlq.get(a.id), undefined);
    dlq.record(entry('d', 4));
    assert.deepEqual(
      evicted.map((e) => e.id),
      [a.id, b.id],
    );
  });

  it('updating an entry in place never evicts', () => {
    const { dlq, evicted } = setup(2);
    const a = dlq.record(entry('a', 1));
    dlq.record(entry('b', 2));
    dlq.record(entry('a', 1, { attempts: 9 }), a.id);
    assert.deepEqual(evicted, []);
    assert.equal(dlq.size, 2);
  });
});
