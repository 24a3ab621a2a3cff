// The thread behind lib/gone.ts: watches processes or threads of this host until they are gone, off the
// host's event loop (a host stalled in synchronous work must not delay the observation). It polls every
// POLL_MS with synchronous reads of /proc (Linux), sleeping in Atomics.wait between polls, and stamps
// events with process.hrtime.bigint() — CLOCK_MONOTONIC, the same clock in every thread and process.
//
// Commands arrive on workerData.port (checked between polls with receiveMessageOnPort):
//   { id, kind: 'pids', pidFile }      pids = the JSON array in pidFile, read as soon as it exists
//   { id, kind: 'pids', pids }         pids given at once
//   { id, kind: 'threads', before }    threads = tids of /proc/self/task that are not in `before`
//   { id, kind: 'cancel' }             stop watching `id` (reported as gone: null)
//   { kind: 'quit' }
// Replies on the same port ({ type: 'ready' } once, at start):
//   { id, type: 'seen', at, ids }      the pids / tids are known and were alive at `at`
//   { id, type: 'gone', at, ids }      every one of them is gone (process: no /proc entry or state Z/X;
//                                      thread: no /proc/self/task/<tid>); at = the first poll that saw it
import { readdirSync, readFileSync } from 'node:fs';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';

const POLL_MS = 0.25;
const GIVE_UP_MS = 15_000;
const port = workerData.port;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const now = () => process.hrtime.bigint();

function processGone(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

function tids() {
  return readdirSync('/proc/self/task');
}

function readPids(pidFile) {
  try {
    return JSON.parse(readFileSync(pidFile, 'utf8'));
  } catch {
    return undefined; // not written yet (or half written)
  }
}

function watch(command) {
  const started = now();
  const giveUp = started + BigInt(GIVE_UP_MS * 1e6);
  let ids = command.kind === 'pids' ? command.pids : undefined;
  const before = command.kind === 'threads' ? new Set(command.before) : undefined;
  const seenThreads = new Set();
  let reportedSeen = false;
  for (;;) {
    const message = receiveMessageOnPort(port)?.message;
    if (message?.kind === 'quit') return false;
    if (message?.kind === 'cancel' && message.id === command.id) {
      port.postMessage({ id: command.id, type: 'gone', at: null, ids: ids ?? [...seenThreads] });
      return true;
    }
    const t = now();
    if (t > giveUp) {
      port.postMessage({ id: command.id, type: 'gone', at: null, ids: ids ?? [...seenThreads] });
      return true;
    }
    if (command.kind === 'pids') {
      if (ids === undefined && command.pidFile) ids = readPids(command.pidFile);
      if (ids !== undefined) {
        if (!reportedSeen) {
          reportedSeen = true;
          port.postMessage({ id: command.id, type: 'seen', at: Number(t), ids });
        }
        if (ids.every(processGone)) {
          port.postMessage({ id: command.id, type: 'gone', at: Number(t), ids });
          return true;
        }
      }
    } else {
      const live = tids();
      let anyAlive = false;
      for (const tid of live) {
        if (before.has(tid)) continue;
        if (!seenThreads.has(tid)) {
          seenThreads.add(tid);
          port.postMessage({ id: command.id, type: 'seen', at: Number(t), ids: [...seenThreads] });
        }
        anyAlive = true;
      }
      if (seenThreads.size > 0 && !anyAlive) {
        port.postMessage({ id: command.id, type: 'gone', at: Number(t), ids: [...seenThreads] });
        return true;
      }
    }
    Atomics.wait(sleeper, 0, 0, POLL_MS);
  }
}

port.postMessage({ type: 'ready' });
for (;;) {
  const message = receiveMessageOnPort(port)?.message;
  if (message === undefined) {
    Atomics.wait(sleeper, 0, 0, 1);
    continue;
  }
  if (message.kind === 'quit') break;
  if (message.kind === 'pids' || message.kind === 'threads') {
    if (!watch(message)) break;
  }
}
port.close();
