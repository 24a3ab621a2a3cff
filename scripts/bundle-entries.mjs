// Part of `npm run build`: the sandboxes' entries as one CommonJS file each — dist/isolation/thread-entry.cjs
// (what piscina requires in every new thread) and dist/isolation/child-entry.cjs (what every child process
// runs). As one CommonJS file, an entry loads synchronously, where the ES module graph tsc emits (the
// entry and the four modules it imports) went through Node's asynchronous module loader: a few ms more of
// every new thread's and child's start (docs/performance.md).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

for (const entry of ['thread-entry', 'child-entry']) {
  await build({
    entryPoints: [fileURLToPath(new URL(`../src/isolation/${entry}.ts`, import.meta.url))],
    outfile: fileURLToPath(new URL(`../dist/isolation/${entry}.cjs`, import.meta.url)),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // Their imports are Node's own modules and corral's: nothing from node_modules goes in.
    packages: 'external',
    logLevel: 'warning',
  });
}
