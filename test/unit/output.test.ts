import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { DEFAULT_LINE_LIMITS, forwardLines, type LineLimits } from '../../src/isolation/output.ts';
import { ManualClock } from './manual-clock.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A stream wired to forwardLines with a manual clock. */
function setup(_t: TestContext, limits?: LineLimits) {
  const clock = new ManualClock();
  const stream = new PassThrough();
  const lines: string[] = [];
  const dropped: number[] = [];
  forwardLines(
    stream,
    (line) => lines.push(line),
    (count) => dropped.push(count),
    limits,
    clock,
  );
  return {
    stream,
    lines,
    dropped,
    clock,
    advance: (ms: number) => clock.advance(ms),
    end: async () => {
      const ended = once(stream, 'end');
      stream.end();
      await ended;
    },
  };
}

describe('forwardLines', () => {
  it('splits lines, also across chunks', async (t) => {
    const { stream, lines, end } = setup(t);
    stream.write('hel');
    stream.write('lo\nwor');
    stream.write('ld\n\nlast line without newline');
    await end();
    assert.deepEqual(lines, ['hello', 'world', '', 'last line without newline']);
  });

  it('keeps multi-byte characters split across chunks whole', async (t) => {
    const { stream, lines, end } = setup(t);
    const bytes = Buffer.from('prix: 5€\n', 'utf8');
    const cut = bytes.indexOf(0xe2) + 1; // inside the euro sign
    stream.write(bytes.subarray(0, cut));
    stream.write(bytes.subarray(cut));
    await end();
    assert.deepEqual(lines, ['prix: 5€']);
  });

  it('cuts long lines to maxLineLength', async (t) => {
    const limits = { maxLineLength: 10, maxLinesPerSecond: 1000 };
    const { stream, lines, end } = setup(t, limits);
    stream.write(`${'a'.repeat(25)}\nshort\n`);
    await end();
    assert.equal(lines[0], `${'a'.repeat(10)}…`);
    assert.equal(lines[1], 'short');
  });

  it('cuts a long partial line without waiting for its newline (bounded memory)', async (t) => {
    const limits = { maxLineLength: 10, maxLinesPerSecond: 1000 };
    const { stream, lines, end } = setup(t, limits);
    for (let i = 0; i < 50; i++) stream.write('b'.repeat(7));
    await tick();
    assert.ok(lines.length >= 1, 'something was emitted before the newline');
    assert.equal(lines[0], `${'b'.repeat(10)}…`);
    stream.write('\n');
    await end();
    for (const line of lines) assert.ok(line.length <= 11, `line of ${line.length} chars`);
  });

  it('rate-limits lines per second and reports the dropped count when the window ends', async (t) => {
    const limits = { maxLineLength: 100, maxLinesPerSecond: 5 };
    const { stream, lines, dropped, advance, end } = setup(t, limits);
    for (let i = 0; i < 12; i++) stream.write(`line ${i}\n`);
    await tick();
    assert.deepEqual(lines, ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    assert.deepEqual(dropped, [], 'reported when the window ends, not during it');
    advance(999);
    stream.write('still in the window\n');
    await tick();
    assert.equal(lines.length, 5);
    advance(1);
    stream.write('next window\n');
    await tick();
    assert.deepEqual(dropped, [8]);
    assert.equal(lines.at(-1), 'next window');
    await end();
    assert.deepEqual(dropped, [8], 'nothing more dropped');
  });

  it('reports drops on a timer, without waiting for more output', async (t) => {
    const limits = { maxLineLength: 100, maxLinesPerSecond: 5 };
    const { stream, dropped, advance, clock } = setup(t, limits);
    for (let i = 0; i < 12; i++) stream.write(`line ${i}\n`);
    await tick();
    advance(400);
    for (let i = 0; i < 3; i++) stream.write(`more ${i}\n`);
    await tick();
    assert.deepEqual(dropped, []);
    advance(599);
    assert.deepEqual(dropped, [], 'the window is not over');
    advance(1);
    assert.deepEqual(dropped, [10], 'reported when the window ends, though the sandbox is silent');
    assert.equal(clock.pending, 0, 'no timer left');
    advance(5000);
    assert.deepEqual(dropped, [10], 'reported once');
  });

  it('a flood over several windows is reported once per window', async (t) => {
    const limits = { maxLineLength: 100, maxLinesPerSecond: 2 };
    const { stream, dropped, advance } = setup(t, limits);
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < 5; i++) stream.write(`line ${i}\n`);
      await tick();
      advance(1000);
    }
    assert.deepEqual(dropped, [3, 3, 3]);
  });

  it('the end of the stream reports what is pending and clears the timer', async (t) => {
    const limits = { maxLineLength: 100, maxLinesPerSecond: 1 };
    const { stream, dropped, clock, end } = setup(t, limits);
    stream.write('1\n2\n3\n');
    await tick();
    assert.equal(clock.pending, 1, 'a report is scheduled');
    await end();
    assert.deepEqual(dropped, [2]);
    assert.equal(clock.pending, 0, 'the timer is cleared');
  });

  it('a destroyed stream (a dying child) clears the timer', async (t) => {
    const limits = { maxLineLength: 100, maxLinesPerSecond: 1 };
    const { stream, dropped, clock } = setup(t, limits);
    stream.write('1\n2\n');
    await tick();
    stream.destroy(new Error('EPIPE'));
    await tick();
    assert.deepEqual(dropped, [1]);
    assert.equal(clock.pending, 0);
  });

  it('the timer of the system clock does not hold the process open', async () => {
    const stream = new PassThrough();
    forwardLines(
      stream,
      () => undefined,
      () => undefined,
      { maxLineLength: 100, maxLinesPerSecond: 1 },
    );
    const before = process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    stream.write('1\n2\n');
    await tick();
    const timers = process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    assert.equal(timers, before, "an unref'd timer is not an active resource");
    stream.destroy();
  });

  it('reports lines dropped at the end of the stream', async (t) => {
    const limits = { maxLineLength: 100, maxLinesPerSecond: 3 };
    const { stream, lines, dropped, end } = setup(t, limits);
    stream.write('1\n2\n3\n4\n5\n6');
    await end();
    assert.deepEqual(lines, ['1', '2', '3']);
    assert.deepEqual(dropped, [3]);
  });

  it('uses sane defaults', () => {
    assert.deepEqual(DEFAULT_LINE_LIMITS, { maxLineLength: 8192, maxLinesPerSecond: 200 });
  });

  it('the default limits forward 200 lines per second', async (t) => {
    const { stream, lines, dropped, end } = setup(t);
    for (let i = 0; i < 250; i++) stream.write(`${i}\n`);
    await end();
    assert.equal(lines.length, 200);
    assert.deepEqual(dropped, [50]);
  });

  it('ignores stream errors (a dying child)', async (t) => {
    const { stream, lines } = setup(t);
    stream.write('before\n');
    await tick();
    stream.destroy(new Error('EPIPE'));
    await tick();
    assert.deepEqual(lines, ['before']);
  });
});
