import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RunQueue } from '../../src/scheduler/run-queue.ts';

interface Item {
  id: number;
  queued: boolean;
}
const item = (id: number): Item => ({ id, queued: false });

/** An item holding a payload, as a queued run does. */
interface PayloadItem extends Item {
  payload: object | undefined;
}
const payloadItem = (id: number): PayloadItem => ({
  id,
  queued: false,
  payload: { data: new Array(64).fill(id) },
});

/**
 * A full garbage collection: global.gc with --expose-gc, else the same function exposed at run time
 * through V8 flags; undefined if neither works (the tests then only check order and size).
 */
function getGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** How many of `refs` still point to a live object after a few full collections. */
async function liveAfterGc(gc: () => void, refs: WeakRef<object>[]): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await tick(); // WeakRef targets are kept alive until the current job ends
    gc();
  }
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

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

  it('removing the last item pops it: its payload is released at once', async (t) => {
    const q = new RunQueue<PayloadItem>();
    const head = payloadItem(0);
    q.push(head);
    // Created in a function, so that only the queue (and the WeakRef) can reach the removed item.
    const ref = (() => {
      const last = payloadItem(1);
      q.push(last);
      assert.equal(q.remove(last), true);
      assert.equal(q.remove(last), false, 'removed twice');
      return new WeakRef(last.payload as object);
    })();
    assert.equal(q.size, 1);
    assert.equal(q.peek(), head);
    q.push(payloadItem(2));
    assert.equal(q.size, 2);

    const gc = getGc();
    if (gc === undefined) t.diagnostic('gc not available: payload release not checked');
    else assert.equal(await liveAfterGc(gc, [ref]), 0, 'a removed last item is still held by the queue');

    assert.deepEqual([q.shift()?.id, q.shift()?.id, q.shift()], [0, 2, undefined]);
    assert.equal(q.size, 0);
  });

  it('many removals behind a long-waiting head compact the array: removed payloads are released', async (t) => {
    const q = new RunQueue<PayloadItem>();
    const head = payloadItem(0);
    q.push(head); // never shifted: it waits for the whole test
    const n = 2000;
    const kept: PayloadItem[] = [];
    // Created in a function, so that only the queue (and the WeakRefs) can reach the removed items.
    const refs = (() => {
      const removed: PayloadItem[] = [];
      for (let i = 1; i <= n; i++) {
        const it = payloadItem(i);
        q.push(it);
        (i % 10 === 0 ? kept : removed).push(it);
      }
      // Oldest first: the last item (id n) is kept, so no removal is a pop; only compaction helps.
      for (const it of removed) assert.equal(q.remove(it), true);
      return removed.map((it) => new WeakRef(it.payload as object));
    })();
    assert.equal(q.size, 1 + kept.length);
    assert.equal(q.peek(), head);

    const gc = getGc();
    if (gc === undefined) t.diagnostic('gc not available: payload release not checked');
    else {
      const live = await liveAfterGc(gc, refs);
      assert.ok(live <= refs.length / 10, `${live} of ${refs.length} removed payloads are still held`);
    }

    q.push(payloadItem(n + 1));
    const order: number[] = [];
    for (let it = q.shift(); it !== undefined; it = q.shift()) order.push(it.id);
    assert.deepEqual(order, [0, ...kept.map((k) => k.id), n + 1], 'waiting items keep their order');
    assert.equal(q.size, 0);
  });
});
