// Leaking example. Input: { maxMb?: number } (default 1024, a safety cap). Output: never returns.
// Keeps ~8 MiB more every 50 ms until memoryLimitMb kills it. The leak is on the V8 heap
// (a packed array of doubles), because a thread's memoryLimitMb is its V8 heap limit and
// Buffers live outside it; a heap leak also grows RSS, which is what a process's limit checks.
const MIB = 1024 * 1024;
const kept = [];

export default function leak(ctx) {
  const maxMb = ctx.payload?.maxMb ?? 1024;
  const grow = setInterval(() => {
    if (kept.length * 8 >= maxMb) return; // hold, but stop growing: never eat the machine
    kept.push(new Array(MIB).fill(Math.random())); // 1 Mi doubles = 8 MiB
  }, 50);
  ctx.signal.addEventListener('abort', () => clearInterval(grow), { once: true });
  return new Promise(() => {});
}
