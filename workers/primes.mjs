// CPU-heavy example. Input: { limit?: number } (default 2_000_000).
// Output: { limit, count, ms } — how many primes are below limit, and how long it took.
// A segmented sieve, so the work comes in chunks: after each one it heartbeats and yields,
// which keeps heartbeatTimeoutSeconds and ctx.signal (cancellation) working during a long run.
const SEGMENT = 1 << 18;

export default async function primes(ctx) {
  const limit = ctx.payload?.limit ?? 2_000_000;
  const started = performance.now();

  // Base primes up to sqrt(limit) with a plain sieve (small).
  const root = Math.floor(Math.sqrt(limit));
  const small = new Uint8Array(root + 1);
  const base = [];
  for (let i = 2; i <= root; i++) {
    if (small[i]) continue;
    base.push(i);
    for (let j = i * i; j <= root; j += i) small[j] = 1;
  }

  let count = 0;
  const composite = new Uint8Array(SEGMENT);
  for (let low = 2; low < limit; low += SEGMENT) {
    const high = Math.min(low + SEGMENT, limit); // segment [low, high)
    composite.fill(0);
    for (const p of base) {
      if (p * p >= high) break;
      for (let j = Math.max(p * p, Math.ceil(low / p) * p); j < high; j += p) composite[j - low] = 1;
    }
    for (let n = low; n < high; n++) if (!composite[n - low]) count++;

    ctx.heartbeat();
    ctx.signal.throwIfAborted();
    await new Promise((resolve) => setImmediate(resolve));
  }

  return { limit, count, ms: Math.round(performance.now() - started) };
}
