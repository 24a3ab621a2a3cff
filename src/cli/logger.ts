// The logger of `corral run`: pino, writing to stderr (stdout carries the CLI's own lines: the URL
// and the stop report). JSON lines, pretty ones (pino-pretty) on a terminal. pino-pretty is loaded only
// then, and a build without it falls back to JSON.
import { type DestinationStream, type Level, type Logger, pino } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = Level | 'silent';

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/** pino-pretty's stream factory, or undefined when it is not installed. */
async function loadPretty(): Promise<PrettyFactory | undefined> {
  const name = 'pino-pretty'; // a variable, so TypeScript does not look for its types
  try {
    const mod = (await import(name)) as { default?: unknown };
    return typeof mod.default === 'function' ? (mod.default as PrettyFactory) : undefined;
  } catch {
    return undefined;
  }
}

export async function createLogger(level: LogLevel): Promise<Logger> {
  const options = { name: 'corral', level };
  if (process.stderr.isTTY === true) {
    const pretty = await loadPretty();
    if (pretty !== undefined) return pino(options, pretty({ destination: 2, sync: true, colorize: true }));
  }
  // Synchronous writes: nothing is lost when the process exits right after a line.
  return pino(options, pino.destination({ fd: 2, sync: true }));
}
