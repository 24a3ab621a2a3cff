// Crash-prone example: an unreliable API call. Input: { id?: number | string }.
// Output: a small record { id, status: 'ok', value, attempt, latencyMs }.
// After 20-80 ms of "latency": 10% of attempts crash the process (process.exit(1)),
// 40% throw a retryable error (code 'E_UPSTREAM'), the rest succeed.
export default async function flakyApi(ctx) {
  const latencyMs = 20 + Math.floor(Math.random() * 60);
  await new Promise((resolve) => setTimeout(resolve, latencyMs));

  const roll = Math.random();
  if (roll < 0.1) process.exit(1); // the kind of crash a native module or OOM gives you
  if (roll < 0.5) {
    const err = new Error(`upstream 503 for id ${ctx.payload?.id ?? '?'}`);
    err.code = 'E_UPSTREAM';
    err.retryable = true;
    throw err;
  }
  return {
    id: ctx.payload?.id ?? null,
    status: 'ok',
    value: Math.round(Math.random() * 1000),
    attempt: ctx.attempt,
    latencyMs,
  };
}
