import type { Readable } from 'node:stream';

export interface LineLimits {
  /** Longer lines are cut to this many characters. */
  maxLineLength: number;
  /** Lines beyond this in one second are dropped and counted. */
  maxLinesPerSecond: number;
}

export const DEFAULT_LINE_LIMITS: LineLimits = { maxLineLength: 8192, maxLinesPerSecond: 200 };

/**
 * Splits a child's output into lines for the logger, within fixed bounds: a partial line is cut at
 * `maxLineLength` and lines past the per-second budget are dropped (and reported once the flood ends),
 * so a flooding worker cannot grow the host's memory.
 */
export function forwardLines(
  stream: Readable,
  onLine: (line: string) => void,
  onDropped: (count: number) => void,
  limits: LineLimits = DEFAULT_LINE_LIMITS,
): void {
  let partial = '';
  let windowStart = 0;
  let inWindow = 0;
  let dropped = 0;
  const emit = (line: string) => {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      inWindow = 0;
      if (dropped > 0) {
        onDropped(dropped);
        dropped = 0;
      }
    }
    if (inWindow >= limits.maxLinesPerSecond) {
      dropped++;
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
    if (dropped > 0) onDropped(dropped);
  });
  stream.on('error', () => {
    // A broken pipe from a dying child: nothing more to forward.
  });
}
