// Part of `npm run build`: the thread sandboxes' entry as one CommonJS file, dist/isolation/thread-entry.cjs.
// Every new thread loads it (README, Isolation: recycleAfterRuns). As one CommonJS file, piscina's
// require() takes it synchronously, where the ES module graph tsc emits (the entry and the four modules
// it imports) was loaded through import() and Node's asynchronous module loader: a few ms more of every
// thread's start (docs/performance.md, "A fresh thread per run").
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/isolation/thread-entry.ts', import.meta.url).pathname],
  outfile: new URL('../dist/isolation/thread-entry.cjs', import.meta.url).pathname,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Its imports are Node's own modules and corral's: nothing from node_modules goes in.
  packages: 'external',
  logLevel: 'warning',
});
