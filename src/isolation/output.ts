import type { Readable } from 'node:stream';
import { type Clock, systemClock, type TimerHandle } from '../clock.ts';

export interface LineLimits {
  /** Longer lines are cut to this many characters. */
  maxLineLength: number;
  /** Lines beyond this in one second are dropped and counted. */
  maxLinesPerSecond: number;
}

export const DEFAULT_LINE_LIMITS: LineLimits = { maxLineLength: 8192, maxLinesPerSecond: 200 };

/**
 * Splits a child's output into lines for the logger, within fixed bounds: a partial line is cut at
 * `maxLineLength` and lines past the per-second budget are dropped, so a flooding worker cannot grow
 * the host's memory. Drops are reported when their one-second window ends, by a timer: a sandbox that
 * floods and then falls silent (or hangs) still has its drops reported within a second or so.
 */
export function forwardLines(
  stream: Readable,
  onLine: (line: string) => void,
  onDropped: (count: number) => void,
  limits: LineLimits = DEFAULT_LINE_LIMITS,
  clock: Clock = systemClock,
): void {
  let partial = '';
  let windowStart = Number.NEGATIVE_INFINITY;
  let inWindow = 0;
  let dropped = 0;
  let report: TimerHandle | undefined;
  const flush = () => {
    if (report !== undefined) clock.clearTimeout(report);
    report = undefined;
    if (dropped > 0) {
      onDropped(dropped);
      dropped = 0;
    }
  };
  const emit = (line: string) => {
    const now = clock.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      inWindow = 0;
      flush();
    }
    if (inWindow >= limits.maxLinesPerSecond) {
      dropped++;
      if (report === undefined) {
        report = clock.setTimeout(flush, windowStart + 1000 - now);
        // A report must not keep the host alive.
        (report as { unref?: () => void }).unref?.();
      }
      return;
    }
    inWindow++;
    onLine(line.length > limits.maxLineLength ? `${line.slice(0, limits.maxLineLength)}…` : line);
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      if (newline === -1) break;
      emit(partial + chunk.slice(start, newline));
      partial = '';
      start = newline + 1;
    }
    if (start < chunk.length) {
      partial += chunk.slice(start);
      if (partial.length > limits.maxLineLength) {
        emit(partial);
        partial = '';
      }
    }
  });
  stream.on('end', () => {
    if (partial !== '') emit(partial);
    flush();
  });
  // Whatever ends the stream (an error included) reports what is pending and clears the timer.
  stream.on('close', flush);
  stream.on('error', () => {
    // A broken pipe from a dying child: nothing more to forward.
  });
}
