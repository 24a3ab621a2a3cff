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

let entry;

function load(url) {
  if (url.endsWith('.ts')) return Promise.resolve(require(fileURLToPath(url)).default);
  return import(url).then((mod) => mod.default);
}

module.exports = function runAttempt(task) {
  entry ??= load(workerData.entry);
  return entry.then((run) => run(task));
};
