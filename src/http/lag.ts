import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Event-loop delay of the recent past, in milliseconds. */
export interface LagReading {
  p99Ms: number;
  maxMs: number;
}

const NS_PER_MS = 1e6;

function read(histogram: IntervalHistogram): LagReading {
  // An empty histogram reports min = 2^63 and percentiles of 0: treat it as "no delay seen".
  if (histogram.count === 0) return { p99Ms: 0, maxMs: 0 };
  return { p99Ms: histogram.percentile(99) / NS_PER_MS, maxMs: histogram.max / NS_PER_MS };
}

/**
 * How late the event loop runs — a stand-in for "is the scheduler lagging": corral's timers, IPC and
 * dispatch all run on it. `monitorEventLoopDelay` accumulates forever, so it is read in windows: the
 * reading covers the current window and the one before, i.e. between one and two `windowMs`. A stall
 * thus shows for a few seconds, then clears once the loop is punctual again.
 */
export class LagMonitor {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #previous: LagReading = { p99Ms: 0, maxMs: 0 };

  constructor(windowMs: number) {
    this.#histogram = monitorEventLoopDelay({ resolution: 20 });
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      this.#previous = read(this.#histogram);
      this.#histogram.reset();
    }, windowMs);
    // Health monitoring must never be what keeps a host process alive.
    this.#timer.unref();
  }

  /** The worst of the current and the previous window. */
  reading(): LagReading {
    const current = read(this.#histogram);
    return {
      p99Ms: Math.max(current.p99Ms, this.#previous.p99Ms),
      maxMs: Math.max(current.maxMs, this.#previous.maxMs),
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
