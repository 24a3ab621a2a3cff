/**
 * Test helpers for cgroup containment (README "Containment"): finding the cgroups corral made for a
 * host process, and removing what a failing test left behind.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The cgroup v2 directory of this process, or undefined where there is none. */
export function ownCgroupDir(): string | undefined {
  try {
    const mount = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .find((fields) => fields[fields.indexOf('-') + 1] === 'cgroup2')?.[4];
    const own = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((line) => line.startsWith('0::'))
      ?.slice(3);
    return mount === undefined || own === undefined ? undefined : join(mount, own);
  } catch {
    return undefined;
  }
}

/**
 * The cgroups corral made for the orchestrators of host process `pid` (named after it) that still exist
 * next to this process's own cgroup, where a host spawned by the test lives too.
 */
export function corralCgroups(pid: number = process.pid): string[] {
  const dir = ownCgroupDir();
  if (dir === undefined || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith(`corral-${pid}-`))
    .map((name) => join(dir, name));
}

/** Cleanup only: ends what a failing test left in cgroup `dir` (all of it started by the test) and removes it. */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  }
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    // no cgroup.kill: nothing to do
  }
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
