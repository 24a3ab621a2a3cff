import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DeadlineList } from '../../src/clock.ts';
import { ManualClock } from './manual-clock.ts';

function setup() {
  const clock = new ManualClock(1_000_000);
  const list = new DeadlineList(clock);
  const fired: string[] = [];
  const at = (name: string) => () => fired.push(`${name}@${clock.now() - 1_000_000}`);
  return { clock, list, fired, at };
}

describe('DeadlineList', () => {
  it('fires each deadline exactly when due, in due order across durations', () => {
    const { clock, list, fired, at } = setup();
    list.add(300, at('a'));
    list.add(100, at('b'));
    clock.advance(50);
    list.add(100, at('c'));
    list.add(300, at('d'));
    clock.advance(49);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, ['b@100']);
    clock.advance(1000);
    assert.deepEqual(fired, ['b@100', 'c@150', 'a@300', 'd@350']);
    assert.equal(list.size, 0);
    assert.equal(clock.pending, 0, 'no timer left once nothing is pending');
  });

  it('arms one clock timer for many deadlines of one duration', () => {
    const { clock, list, fired, at } = setup();
    for (let i = 0; i < 100; i++) {
      list.add(1000, at(String(i)));
      clock.advance(1);
    }
    assert.equal(clock.setTimeoutCalls, 1);
    assert.equal(clock.pending, 1);
    clock.advance(1000);
    assert.equal(fired.length, 100);
    assert.equal(fired[99], '99@1099');
  });

  it('cancels in O(1) anywhere in a FIFO: head, middle, tail; the rest still fire in order', () => {
    const { clock, list, fired, at } = setup();
    const entries = ['a', 'b', 'c', 'd', 'e'].map((name) => {
      const entry = list.add(100, at(name));
      clock.advance(10);
      return entry;
    });
    entries[0]?.cancel();
    entries[2]?.cancel();
    entries[4]?.cancel();
    assert.equal(list.size, 2);
    clock.advance(1000);
    assert.deepEqual(fired, ['b@110', 'd@130']);
  });

  it('cancelling the head leaves the timer: it fires early, finds nothing due and re-arms for the new head', () => {
    const { clock, list, fired, at } = setup();
    const first = list.add(100, at('a'));
    clock.advance(40);
    list.add(100, at('b'));
    first.cancel();
    assert.equal(clock.pending, 1);
    clock.advance(60);
    assert.deepEqual(fired, []);
    assert.equal(clock.nextDueAt, clock.now() + 40);
    clock.advance(40);
    assert.deepEqual(fired, ['b@140']);
  });

  it('cancelling the last pending deadline clears the timer (an idle host is not held open)', () => {
    const { clock, list } = setup();
    const a = list.add(100, () => assert.fail('cancelled'));
    const b = list.add(500, () => assert.fail('cancelled'));
    a.cancel();
    assert.equal(clock.pending, 1);
    b.cancel();
    assert.equal(clock.pending, 0);
    assert.equal(list.size, 0);
    clock.advance(1000);
  });

  it('a weak list keeps its timer when emptied: a deadline set and cancelled per run arms it once', () => {
    const clock = new ManualClock(1_000_000);
    const list = new DeadlineList(clock, true);
    for (let i = 0; i < 50; i++) {
      list.add(30_000, () => assert.fail('cancelled'))?.cancel();
      clock.advance(10);
    }
    assert.equal(clock.setTimeoutCalls, 1);
    assert.equal(list.size, 0);
    clock.advance(60_000);
    assert.equal(clock.pending, 0, 'it fires once, finds nothing due and is not armed again');
  });

  it('an earlier deadline than the armed one re-arms the timer', () => {
    const { clock, list, fired, at } = setup();
    list.add(1000, at('long'));
    list.add(10, at('short'));
    assert.equal(clock.pending, 1);
    assert.equal(clock.nextDueAt, clock.now() + 10);
    clock.advance(10);
    assert.deepEqual(fired, ['short@10']);
    clock.advance(990);
    assert.deepEqual(fired, ['short@10', 'long@1000']);
  });

  it('cancel after firing, and a second cancel, are no-ops', () => {
    const { clock, list, fired, at } = setup();
    const a = list.add(10, at('a'));
    const b = list.add(20, at('b'));
    clock.advance(10);
    a.cancel();
    a.cancel();
    assert.equal(list.size, 1);
    b.cancel();
    b.cancel();
    assert.equal(list.size, 0);
    clock.advance(100);
    assert.deepEqual(fired, ['a@10']);
  });

  it('a firing deadline may cancel one due at the same time and add others; one timer afterwards', () => {
    const { clock, list, fired, at } = setup();
    let victim: { cancel(): void } | undefined;
    list.add(10, () => {
      fired.push(`first@${clock.now() - 1_000_000}`);
      victim?.cancel();
      list.add(5, at('added'));
    });
    victim = list.add(10, at('victim'));
    clock.advance(10);
    assert.deepEqual(fired, ['first@10']);
    assert.equal(list.size, 1);
    assert.equal(clock.pending, 1);
    clock.advance(100);
    assert.deepEqual(fired, ['first@10', 'added@15']);
    assert.equal(clock.pending, 0);
  });

  it('is shared per clock', () => {
    const clock = new ManualClock();
    assert.equal(DeadlineList.of(clock), DeadlineList.of(clock));
    assert.notEqual(DeadlineList.of(clock), DeadlineList.of(new ManualClock()));
  });

  it('on the system clock, a pending deadline keeps the host alive and fires; one of the weak list does not', () => {
    const clockModule = fileURLToPath(new URL('../../src/clock.ts', import.meta.url));
    const script = `
      const { DeadlineList, systemClock } = await import(${JSON.stringify(clockModule)});
      DeadlineList.weak(systemClock).add(600_000, () => console.log('weak fired'));
      DeadlineList.of(systemClock).add(50, () => console.log('fired'));
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'fired', 'the host exits once the strong deadline fired');
  });
});
