import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Median and range of a few rounds. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    median,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    rounds: [...values],
  };
}

/** An HDR histogram of latencies in nanoseconds (node:perf_hooks), read out in microseconds. */
export class Latency {
  readonly #histogram: RecordableHistogram = createHistogram();

  /** Records the time since `startNs` (from process.hrtime.bigint()). */
  since(startNs: bigint): void {
    const ns = Number(process.hrtime.bigint() - startNs);
    this.#histogram.record(Math.max(1, ns));
  }

  recordMs(ms: number): void {
    this.#histogram.record(Math.max(1, Math.round(ms * 1e6)));
  }

  percentileUs(p: number): number {
    return this.#histogram.percentile(p) / 1000;
  }

  get count(): number {
    return this.#histogram.count;
  }
}
