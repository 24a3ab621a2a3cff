import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunQueue } from '../../src/scheduler/run-queue.ts';

interface Item {
  id: number;
  queued: boolean;
}
const item = (id: number): Item => ({ id, queued: false });

describe('RunQueue', () => {
  it('is FIFO and marks items queued while waiting', () => {
    const q = new RunQueue<Item>();
    const [a, b, c] = [item(1), item(2), item(3)];
    q.push(a);
    q.push(b);
    q.push(c);
    assert.equal(q.size, 3);
    assert.equal(a.queued, true);
    assert.equal(q.peek(), a);
    assert.equal(q.shift(), a);
    assert.equal(a.queued, false);
    assert.equal(q.shift(), b);
    assert.equal(q.shift(), c);
    assert.equal(q.shift(), undefined);
    assert.equal(q.peek(), undefined);
    assert.equal(q.size, 0);
  });

  it('removes from anywhere, once; removed items are skipped', () => {
    const q = new RunQueue<Item>();
    const items = [1, 2, 3, 4].map(item);
    for (const i of items) q.push(i);
    assert.equal(q.remove(items[0] as Item), true);
    assert.equal(q.remove(items[2] as Item), true);
    assert.equal(q.remove(items[2] as Item), false);
    assert.equal(q.size, 2);
    assert.equal(q.peek(), items[1]);
    assert.deepEqual([q.shift()?.id, q.shift()?.id, q.shift()], [2, 4, undefined]);
    assert.equal(q.remove(items[1] as Item), false, 'already shifted');
  });

  it('drain returns waiting items oldest first and empties the queue', () => {
    const q = new RunQueue<Item>();
    const items = [1, 2, 3].map(item);
    for (const i of items) q.push(i);
    q.remove(items[1] as Item);
    const drained = q.drain();
    assert.deepEqual(
      drained.map((i) => i.id),
      [1, 3],
    );
    assert.ok(drained.every((i) => !i.queued));
    assert.equal(q.size, 0);
    q.push(item(9));
    assert.equal(q.shift()?.id, 9);
  });

  it('keeps order across compaction with many items', () => {
    const q = new RunQueue<Item>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3000; i++) q.push(item(next++));
      for (let i = 0; i < 2500; i++) assert.equal(q.shift()?.id, expected++);
    }
    assert.equal(q.size, next - expected);
    while (q.size > 0) assert.equal(q.shift()?.id, expected++);
    assert.equal(expected, next);
  });
});
