// The soak's command line: `--minutes N [--rate R] [--seed S] [--nice K] [--inject FAULT]
// [--max-loop-delay-ms M] [--max-blocking-ms B]`, parsed by util.parseArgs.
import { parseArgs } from 'node:util';

export const USAGE =
  'usage: npm run soak -- --minutes N [--rate R] [--seed S] [--nice K] [--max-loop-delay-ms M] [--max-blocking-ms B] ' +
  '[--inject lost-dead-letter|orphan|thread]   (N > 0, may be fractional)';

const FAULTS = ['lost-dead-letter', 'orphan', 'thread'] as const;
export type Fault = (typeof FAULTS)[number];

export interface SoakArgs {
  /** Length of the load, in minutes (may be fractional, e.g. 0.5). */
  minutes: number;
  /** Submissions per second. */
  rate: number;
  /** Seed of the load generator and of the chaos workers. */
  seed: number;
  /** Nice value of spinning chaos child processes (0: the host's priority). */
  nice: number;
  /** A fault to plant, to show that the checks catch it (the soak must then FAIL). */
  inject: Fault | undefined;
  /** Bound of the event-loop delay check. `npm test` runs the soak beside other suites on 2 cores,
   * where a stall of the whole machine is not the host's doing; it passes a looser bound there. */
  maxLoopDelayMs: number;
  /** Bound of the host's own event-loop blocking: its main thread's time on a CPU within one gap. */
  maxBlockingMs: number;
}

/** The arguments, or the reason they are refused. */
export function soakArgs(argv: string[]): SoakArgs | { error: string } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        minutes: { type: 'string', default: '1' },
        rate: { type: 'string', default: '200' },
        seed: { type: 'string' },
        nice: { type: 'string', default: '10' },
        inject: { type: 'string' },
        'max-loop-delay-ms': { type: 'string', default: '1000' },
        'max-blocking-ms': { type: 'string', default: '50' },
      },
    }));
  } catch (error) {
    return { error: (error as Error).message };
  }
  const args: SoakArgs = {
    minutes: Number(values.minutes),
    rate: Number(values.rate),
    seed: Number(values.seed ?? Date.now() % 1_000_000) >>> 0,
    nice: Number(values.nice),
    inject: values.inject as Fault | undefined,
    maxLoopDelayMs: Number(values['max-loop-delay-ms']),
    maxBlockingMs: Number(values['max-blocking-ms']),
  };
  if (!(args.minutes > 0) || !(args.rate > 0)) return { error: '--minutes and --rate must be > 0' };
  if (!Number.isFinite(args.nice) || !(args.maxLoopDelayMs > 0) || !(args.maxBlockingMs > 0)) {
    return { error: '--nice must be a number, --max-loop-delay-ms and --max-blocking-ms > 0' };
  }
  if (args.inject !== undefined && !FAULTS.includes(args.inject)) {
    return { error: `--inject must be one of ${FAULTS.join(', ')}` };
  }
  return args;
}
