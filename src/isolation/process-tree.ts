/**
 * Containment without cgroups: a child sandbox is forked `detached`, so it leads its own session and
 * process group, and the processes it started are found by walking the process table — on Linux /proc,
 * elsewhere `ps` — before the child is allowed to exit, since after that its descendants are
 * re-parented and the tree can no longer be followed (see README, "Containment").
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  childrenByParent,
  descendantsOf,
  environHas,
  hasProcFs,
  listProcesses,
  type ProcEntry,
  pidAlive,
  readStat,
} from './procfs.ts';

/** What makes a process part of a sandbox, recorded so that it can still be found once re-parented. */
export interface TreeSnapshot {
  pids: Set<number>;
  /** Sessions and process groups of the sandbox's processes (ids stay reserved while they exist). */
  sessions: Set<number>;
  groups: Set<number>;
}

/** How to recognise the processes of one sandbox. */
export interface TreeScope {
  /**
   * "NAME=value" put in the sandbox's environment: descendants inherit it, so it finds a daemon that
   * double-forked away from the tree before any snapshot could see it (Linux only: /proc/<pid>/environ).
   */
  mark: string | undefined;
  /** The sandbox's start time (clock ticks since boot): older processes are not checked for the mark. */
  since: number;
}

/** Sends `signal` to every process of group `pgid`; false when the group is empty. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The process table: /proc on Linux, `ps` elsewhere (no sessions nor start times there). */
async function processTable(): Promise<ProcEntry[]> {
  if (hasProcFs) return listProcesses();
  const out = await new Promise<string>((resolve) => {
    execFile('ps', ['-A', '-o', 'pid=,ppid=,pgid='], (error, stdout) => resolve(error ? '' : stdout));
  });
  return parsePs(out);
}

/** Parses `ps -A -o pid=,ppid=,pgid=`. */
export function parsePs(text: string): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const line of text.split('\n')) {
    const [pid, ppid, pgid] = line.trim().split(/\s+/).map(Number);
    if (pid === undefined || ppid === undefined || pgid === undefined || Number.isNaN(pgid)) continue;
    entries.push({ pid, ppid, pgid, sid: -1, state: 'S', cpuTicks: 0, rssBytes: 0, startTicks: 0 });
  }
  return entries;
}

/**
 * The processes of the sandbox whose child is `root`: its descendants, the members of its sessions and
 * process groups (those a descendant made with setsid included), and the processes carrying its mark;
 * with `prior`, also what a snapshot taken earlier recorded (and their descendants) — which is how a
 * helper is found once the child has exited and it was re-parented.
 */
export async function snapshotTree(
  root: number,
  rootLive: boolean,
  scope: TreeScope,
  prior?: TreeSnapshot,
): Promise<TreeSnapshot> {
  const table = await processTable();
  const host = hasProcFs ? readStat(process.pid) : undefined;
  // Never the host's own session or group, nor init's (ids 0 and 1 are not ours to record).
  const foreign = new Set([0, 1, host?.sid ?? 0, host?.pgid ?? 0]);
  const sessions = new Set(prior?.sessions ?? []);
  const groups = new Set(prior?.groups ?? []);
  sessions.add(root);
  groups.add(root);
  const seeds = new Set(prior?.pids ?? []);
  // Once the child is gone (and reaped) its pid may be reused; its session and group ids may not while
  // they have members.
  if (rootLive) seeds.add(root);
  else seeds.delete(root);
  const members = new Map<number, ProcEntry>();
  for (const entry of table) {
    if (entry.pid === process.pid || entry.pid === 1) continue;
    if (
      seeds.has(entry.pid) ||
      sessions.has(entry.sid) ||
      groups.has(entry.pgid) ||
      (scope.mark !== undefined && entry.startTicks >= scope.since && environHas(entry.pid, scope.mark))
    ) {
      members.set(entry.pid, entry);
    }
  }
  for (const entry of descendantsOf(members.keys(), childrenByParent(table))) {
    members.set(entry.pid, entry);
  }
  for (const entry of members.values()) {
    if (!foreign.has(entry.sid) && entry.sid > 0) sessions.add(entry.sid);
    if (!foreign.has(entry.pgid) && entry.pgid > 0) groups.add(entry.pgid);
  }
  return { pids: new Set(members.keys()), sessions, groups };
}

function signalAll(snapshot: TreeSnapshot, signal: NodeJS.Signals): void {
  for (const pgid of snapshot.groups) signalGroup(pgid, signal);
  for (const pid of snapshot.pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Waits until every process of `snapshot` is gone; false if some remain after `timeoutMs`. */
async function waitGone(snapshot: TreeSnapshot, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  const left = () =>
    [...snapshot.pids].some(pidAlive) || [...snapshot.groups].some((pgid) => signalGroup(pgid, 0));
  while (left()) {
    if (Date.now() >= deadline) return false;
    await sleep(pause, undefined, { ref: false });
    pause = Math.min(pause * 2, 50);
  }
  return true;
}

/**
 * Ends a child sandbox and everything it started: SIGTERM to each of its processes and groups, SIGKILL
 * after `graceMs` (at once when it is 0) to whatever is left — found again then, so that what was
 * started during the grace period goes too. `prior` is a snapshot taken before the child could exit
 * (the close path); without one, the walk happens now, before the first signal.
 */
export async function terminateProcessTree(
  pid: number,
  exited: Promise<unknown>,
  isExited: () => boolean,
  graceMs: number,
  scope: TreeScope,
  prior?: TreeSnapshot,
): Promise<void> {
  let snapshot = await snapshotTree(pid, !isExited(), scope, prior);
  if (graceMs > 0) {
    signalAll(snapshot, 'SIGTERM');
    const graceOver = sleep(graceMs, undefined, { ref: false });
    await Promise.race([Promise.all([exited, waitGone(snapshot, graceMs)]), graceOver]);
    snapshot = await snapshotTree(pid, !isExited(), scope, snapshot);
  }
  signalAll(snapshot, 'SIGKILL');
  await exited;
  if (!(await waitGone(snapshot, 2000))) {
    // Started between the walk and the signal: one more round.
    signalAll(await snapshotTree(pid, !isExited(), scope, snapshot), 'SIGKILL');
  }
}
