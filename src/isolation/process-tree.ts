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
 * re-parented — which tree-kill alone, walking `ps` from the child's pid, would miss. tree-kill adds the
 * descendants that moved to a group of their own, while the child still lives to find them.
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
  if (graceMs > 0) {
    signalGroup(pgid, 'SIGTERM');
    if (!isExited()) pending.push(killTree(pid, 'SIGTERM'));
    const graceOver = sleep(graceMs, undefined, { ref: false });
    await Promise.race([Promise.all([exited, waitGroupEmpty(pgid, graceMs)]), graceOver]);
  }
  if (!isExited() || groupAlive(pgid)) {
    signalGroup(pgid, 'SIGKILL');
    if (!isExited()) pending.push(killTree(pid, 'SIGKILL'));
  }
  await exited;
  await waitGroupEmpty(pgid, 2000);
  await Promise.all(pending);
}
