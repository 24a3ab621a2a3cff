'use strict';
/**
 * What piscina loads in each thread: a CommonJS file whose export hands each attempt to the ESM thread
 * entry (`workerData.entry`), loaded once.
 *
 * piscina would `require()` the entry itself; on Node.js 20.19+ that loads an ES module synchronously
 * (require(esm)), which can abort the whole process with a fatal V8 error ("IsGraphAsync must be used
 * on an instantiated module") when the host runs under a loader such as tsx, whose hooks the thread
 * inherits. Loaded with import(), the built entry (.js) never takes that path. The TypeScript entry
 * (corral's own tests, run from source) can only be loaded through the loader's require hook.
 */
const { workerData } = require('node:worker_threads');
const { fileURLToPath } = require('node:url');

function load(url) {
  if (url.endsWith('.ts')) return Promise.resolve(require(fileURLToPath(url)).default);
  return import(url).then((mod) => mod.default);
}

// Loaded now, while piscina loads this file: a thread is ready (piscina's 'workerCreate', which
// ThreadSandbox waits for before it terminates a thread) only once a synchronous load is over.
const entry = load(workerData.entry);
// A failed load is reported by the first attempt, not as an unhandled rejection of the thread.
entry.catch(() => undefined);

module.exports = function runAttempt(task) {
  return entry.then((run) => run(task));
};
