import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import treeKill from 'tree-kill';

/** Sends `signal` to every process of group `pgid`; false when the group is empty. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/** tree-kill as a promise; it spawns `ps` per tree level, which must be awaited before "no child left". */
export function killTree(pid: number, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => treeKill(pid, signal, () => resolve()));
}

interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
}

/** Every live process from /proc (Linux); empty elsewhere. Zombies are left out: they are already dead. */
function listProcesses(): ProcEntry[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) });
  }
  return out;
}

/**
 * Descendants of `pid` that left its process group (setsid / `detached`): signalling the group misses
 * them, and once `pid` dies they are re-parented and tree-kill can no longer find them either. Taken as
 * a snapshot before the first signal.
 */
export function descendantsOutsideGroup(pid: number): number[] {
  const processes = listProcesses();
  const children = new Map<number, ProcEntry[]>();
  for (const entry of processes) {
    const siblings = children.get(entry.ppid);
    if (siblings === undefined) children.set(entry.ppid, [entry]);
    else siblings.push(entry);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop() as number) ?? []) {
      if (child.pgid !== pid) out.push(child.pid);
      stack.push(child.pid);
    }
  }
  return out;
}

function signalEach(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(10);
}

/** Waits until group `pgid` is empty, polling; false if it still has members after `timeoutMs`. */
export async function waitGroupEmpty(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pause);
    pause = Math.min(pause * 2, 50);
  }
  return true;
}

/**
 * Ends a child sandbox and everything it started. The child leads its own process group (forked
 * `detached`), so signalling the group reaches grandchildren even after the child is gone and they were
 * re-parented. Descendants that left the group (setsid / `detached`) are found by a snapshot of the
 * tree taken before the first signal: from /proc on Linux — tree-kill cannot serve there, since it
 * walks `ps` after signalling, when re-parented grandchildren can no longer be found, and each of its
 * `ps` spawns blocks the host for milliseconds — and with tree-kill where there is no /proc.
 *
 * SIGTERM first; SIGKILL for whatever remains after `graceMs` (at once when it is 0).
 */
export async function terminateProcessTree(
  pid: number,
  exited: Promise<unknown>,
  isExited: () => boolean,
  graceMs: number,
): Promise<void> {
  const pgid = pid;
  const pending: Promise<void>[] = [];
  const hasProc = existsSync('/proc/self/stat');
  const strays = isExited() || !hasProc ? [] : descendantsOutsideGroup(pid);
  const walkTree = (signal: NodeJS.Signals) => {
    if (!hasProc && !isExited()) pending.push(killTree(pid, signal));
  };
  if (graceMs > 0) {
    signalGroup(pgid, 'SIGTERM');
    signalEach(strays, 'SIGTERM');
    walkTree('SIGTERM');
    const graceOver = sleep(graceMs, undefined, { ref: false });
    const strayGone = waitGone(strays, graceMs);
    await Promise.race([Promise.all([exited, waitGroupEmpty(pgid, graceMs), strayGone]), graceOver]);
  }
  signalEach(strays, 'SIGKILL');
  if (!isExited() || groupAlive(pgid)) {
    signalGroup(pgid, 'SIGKILL');
    walkTree('SIGKILL');
  }
  await exited;
  await waitGroupEmpty(pgid, 2000);
  await Promise.all(pending);
}
