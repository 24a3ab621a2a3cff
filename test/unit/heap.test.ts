import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Heap } from '../../src/scheduler/heap.ts';

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Heap', () => {
  it('is empty at first', () => {
    const h = new Heap<number>((a, b) => a < b);
    assert.equal(h.size, 0);
    assert.equal(h.peek(), undefined);
    assert.equal(h.pop(), undefined);
  });

  it('pops in `before` order (min-heap), peek does not remove', () => {
    const h = new Heap<number>((a, b) => a < b);
    for (const n of [5, 3, 8, 1, 9, 2, 7, 3]) h.push(n);
    assert.equal(h.size, 8);
    assert.equal(h.peek(), 1);
    assert.equal(h.size, 8);
    const out: number[] = [];
    for (let n = h.pop(); n !== undefined; n = h.pop()) out.push(n);
    assert.deepEqual(out, [1, 2, 3, 3, 5, 7, 8, 9]);
    assert.equal(h.size, 0);
  });

  it('follows a custom order (max-heap of objects)', () => {
    const h = new Heap<{ p: number }>((a, b) => a.p > b.p);
    for (const p of [1, 4, 2, 3]) h.push({ p });
    assert.deepEqual([h.pop()?.p, h.pop()?.p, h.pop()?.p, h.pop()?.p], [4, 3, 2, 1]);
  });

  it('sorts many random values with interleaved push and pop', () => {
    const random = rng(42);
    const h = new Heap<number>((a, b) => a < b);
    const reference: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const v = Math.floor(random() * 1000);
      h.push(v);
      reference.push(v);
      if (i % 3 === 0) {
        reference.sort((a, b) => a - b);
        assert.equal(h.pop(), reference.shift());
      }
    }
    reference.sort((a, b) => a - b);
    const rest: number[] = [];
    for (let n = h.pop(); n !== undefined; n = h.pop()) rest.push(n);
    assert.deepEqual(rest, reference);
  });

  it('clear empties it', () => {
    const h = new Heap<number>((a, b) => a < b);
    h.push(1);
    h.push(2);
    h.clear();
    assert.equal(h.size, 0);
    assert.equal(h.pop(), undefined);
  });
});
