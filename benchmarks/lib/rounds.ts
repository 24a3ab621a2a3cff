import { type Summary, summarize } from './stats.ts';

/** One side of a comparison: measured in rounds, interleaved with the others. */
export interface Variant<M extends Record<string, number>> {
  name: string;
  setup?(): Promise<void>;
  /** One measured round. */
  round(): Promise<M>;
  teardown?(): Promise<void>;
}

/**
 * Runs the variants' rounds interleaved (A B C, A B C, ...), after one warm-up round each, so that the
 * machine's drift (other tenants, thermal state) hits every side alike: ratios of the same run hold
 * even when absolute figures move.
 */
export async function interleave<M extends Record<string, number>>(
  variants: Variant<M>[],
  rounds: number,
): Promise<Map<string, Record<keyof M, Summary>>> {
  for (const v of variants) await v.setup?.();
  const samples = new Map<string, M[]>(variants.map((v) => [v.name, []]));
  try {
    for (const v of variants) await v.round(); // warm-up, discarded
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) samples.get(v.name)?.push(await v.round());
    }
  } finally {
    for (const v of variants) await v.teardown?.();
  }
  const out = new Map<string, Record<keyof M, Summary>>();
  for (const [name, list] of samples) {
    const keys = Object.keys(list[0] ?? {}) as (keyof M)[];
    const summary = {} as Record<keyof M, Summary>;
    for (const key of keys) summary[key] = summarize(list.map((m) => m[key]));
    out.set(name, summary);
  }
  return out;
}

/** Keeps `inFlight` calls of `call` going until `total` have completed; returns elapsed ms. */
export async function drive(
  total: number,
  inFlight: number,
  call: (i: number) => Promise<unknown>,
): Promise<number> {
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      if (started >= total) return;
      const i = started++;
      call(i).then(() => {
        done++;
        if (done === total) resolve();
        else next();
      }, reject);
    };
    for (let k = 0; k < Math.min(inFlight, total); k++) next();
  });
  return performance.now() - t0;
}
