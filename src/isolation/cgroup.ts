/**
 * cgroup v2 containment: each process sandbox runs in a cgroup of its own, under one cgroup per
 * orchestrator, and is ended with `cgroup.kill`, which reaches every process in it — also those that
 * left the sandbox's process group and session (setsid, double forks) — since a process cannot leave
 * its cgroup without write access to another one. This is what systemd's `KillMode=control-group`
 * relies on. Used where a writable cgroup v2 hierarchy with `cgroup.kill` (Linux 5.14+) exists: as
 * root, or in a delegated subtree; process groups and a /proc snapshot serve elsewhere (see README,
 * "Containment").
 */
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  type Dirent,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive, readStat } from './procfs.ts';

export type Containment = 'cgroup' | 'process-group';

/** The mount point of the cgroup2 hierarchy from the text of /proc/self/mountinfo; undefined if none. */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    // "id parent major:minor root mount-point options [optional fields...] - fstype source super-options"
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash !== -1 && fields[dash + 1] === 'cgroup2' && fields[4] !== undefined) {
      return unescapeMountPath(fields[4]);
    }
  }
  return undefined;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The cgroup v2 path ("0::/path") from the text of /proc/<pid>/cgroup; undefined if none. */
export function ownCgroupPath(cgroupFile: string): string | undefined {
  const line = cgroupFile.split('\n').find((entry) => entry.startsWith('0::'));
  return line?.slice(3);
}

let probed: { parent: string | undefined } | undefined;

/**
 * The cgroup directory under which corral may create its own, or undefined where it cannot: the
 * directory named by CORRAL_CGROUP_PARENT, else this process's own cgroup in the cgroup2 hierarchy
 * (read from /proc/self/mountinfo: `/sys/fs/cgroup` on a pure v2 host, `/sys/fs/cgroup/unified` on a
 * hybrid one). Usable if a sub-directory can be created there, has `cgroup.kill`, and processes can be
 * moved into it. Probed once per process.
 */
export function cgroupParent(): string | undefined {
  probed ??= { parent: probeParent() };
  return probed.parent;
}

function probeParent(): string | undefined {
  if (process.platform !== 'linux' || !existsSync('/bin/sh')) return undefined;
  let parent = process.env.CORRAL_CGROUP_PARENT;
  try {
    if (parent === undefined || parent === '') {
      const mount = cgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
      const own = ownCgroupPath(readFileSync('/proc/self/cgroup', 'utf8'));
      if (mount === undefined || own === undefined) return undefined;
      parent = join(mount, own);
    }
    const probe = join(parent, `corral-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(probe);
    try {
      if (!existsSync(join(probe, 'cgroup.kill'))) return undefined;
      // Moving a process needs write access to the target's cgroup.procs and to that of the common
      // ancestor of the source and the target (the parent, for a sandbox forked by this process).
      accessSync(join(probe, 'cgroup.procs'), constants.W_OK);
      accessSync(join(parent, 'cgroup.procs'), constants.W_OK);
    } finally {
      rmdirSync(probe);
    }
    return parent;
  } catch {
    return undefined;
  }
}

/**
 * The mechanism a new orchestrator uses: `cgroup` where a writable cgroup v2 hierarchy allows it,
 * else `process-group`. CORRAL_CONTAINMENT=process-group forces process groups (tests of that path,
 * or a host that wants to keep its cgroups untouched).
 */
export function containmentMechanism(): Containment {
  if (process.env.CORRAL_CONTAINMENT === 'process-group') return 'process-group';
  return cgroupParent() === undefined ? 'process-group' : 'cgroup';
}

/**
 * The cgroups of one orchestrator: a directory of its own (created on first use, named after the host's
 * pid) holding one sub-directory per sandbox. The reaper kills the orchestrator's directory as a whole
 * if the host dies.
 */
export class CgroupTree {
  readonly #parent: string;
  #dir: string | undefined;
  #next = 0;

  constructor(parent: string) {
    this.#parent = parent;
  }

  /** The orchestrator's cgroup directory, created now if needed. */
  get dir(): string {
    if (this.#dir === undefined) {
      removeStale(this.#parent);
      const dir = join(this.#parent, `corral-${process.pid}-${randomBytes(4).toString('hex')}`);
      mkdirSync(dir);
      this.#dir = dir;
    }
    return this.#dir;
  }

  /** A new, empty cgroup for one sandbox. */
  create(): string {
    const name = `sandbox-${++this.#next}`;
    try {
      const dir = join(this.dir, name);
      mkdirSync(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The orchestrator's directory went while empty (removed by hand, or as stale by a host in
      // another pid namespace that shares the parent): made again.
      this.#dir = undefined;
      const dir = join(this.dir, name);
      mkdirSync(dir);
      return dir;
    }
  }

  /**
   * Removes the orchestrator's directory; it is made again on use. Its sandboxes' cgroups are normally
   * gone by then — one whose removal gave up is killed and removed first (a cgroup with children cannot
   * be removed).
   */
  async close(): Promise<void> {
    const dir = this.#dir;
    if (dir === undefined) return;
    this.#dir = undefined;
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      // Gone already.
    }
    await Promise.all(
      entries.filter((entry) => entry.isDirectory()).map((entry) => removeCgroup(join(dir, entry.name))),
    );
    await removeCgroup(dir);
  }
}

/**
 * Removes the empty cgroups that orchestrators of dead host processes left in `parent` (a host that died
 * while its reaper could not finish, e.g. the reaper was killed too). Only empty ones, only of hosts whose
 * pid is gone: what still holds a process is not this host's to end.
 */
function removeStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const host = /^corral-(\d+)-[0-9a-f]+$/.exec(name);
    if (host === null || Number(host[1]) === process.pid || pidAlive(Number(host[1]))) continue;
    const dir = join(parent, name);
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const sandbox = join(dir, entry.name);
        if (entry.isDirectory() && !cgroupPopulated(sandbox)) rmdirSync(sandbox);
      }
      if (!cgroupPopulated(dir)) rmdirSync(dir);
    } catch {
      // Another host is removing it, or it holds a process: left as it is.
    }
  }
}

/** Pids in cgroup `dir` (not in its sub-directories); empty if it is gone. */
function cgroupPids(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cgroup.procs'), 'latin1');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const line of text.split('\n')) if (line !== '') pids.push(Number(line));
  return pids;
}

/** True while a process lives in cgroup `dir` or below (cgroup.events `populated 1`). */
function cgroupPopulated(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'cgroup.events'), 'latin1').includes('populated 1');
  } catch {
    return false;
  }
}

/** Sends `signal` to every process in cgroup `dir`. */
export function signalCgroup(dir: string, signal: NodeJS.Signals): void {
  for (const pid of cgroupPids(dir)) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** SIGKILLs every process in cgroup `dir` and below, atomically with respect to forks. */
export function killCgroup(dir: string): void {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    // Gone already.
  }
}

/** Waits until cgroup `dir` is empty; false if it still holds a process after `timeoutMs`. */
export async function waitCgroupEmpty(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  while (cgroupPopulated(dir)) {
    if (Date.now() >= deadline) return false;
    await sleep(pause, undefined, { ref: false });
    pause = Math.min(pause * 2, 50);
  }
  return true;
}

/**
 * Kills whatever is left in cgroup `dir` and removes it. A cgroup can be removed only once empty, and the
 * processes of `cgroup.kill` take a moment to exit, hence the retries.
 */
export async function removeCgroup(dir: string, timeoutMs = 5000): Promise<void> {
  if (!existsSync(dir)) return;
  killCgroup(dir);
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || Date.now() >= deadline) return;
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 50);
  }
}

/**
 * Whether cgroup memory accounting (`memory.current`) is there: a property of the hierarchy, so it is
 * looked up once per parent directory (a failed open per sample would cost more than the sample).
 */
const memoryFiles = new Map<string, boolean>();

/**
 * Memory of everything in cgroup `dir`: `memory.current` where the memory controller is enabled in the
 * v2 hierarchy, else the sum of the RSS of its processes (on a hybrid host the memory controller
 * lives in v1, so the v2 cgroup has no memory files). `known`: the RSS of one of its processes (the
 * sandbox's own) already read this sample, so that it is not read twice.
 */
export function cgroupMemory(dir: string, known?: { pid: number; rss: number }): number | undefined {
  const parent = dirname(dir);
  let accounted = memoryFiles.get(parent);
  if (accounted === undefined) {
    accounted = existsSync(join(dir, 'memory.current'));
    memoryFiles.set(parent, accounted);
  }
  if (accounted) {
    try {
      return Number(readFileSync(join(dir, 'memory.current'), 'latin1'));
    } catch {
      // Gone, or the controller was turned off meanwhile: sum the processes.
    }
  }
  const pids = cgroupPids(dir);
  if (pids.length === 0) return undefined;
  let sum = 0;
  for (const pid of pids) sum += pid === known?.pid ? known.rss : (readStat(pid)?.rssBytes ?? 0);
  return sum;
}
