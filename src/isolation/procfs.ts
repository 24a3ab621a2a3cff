/**
 * Everything corral reads from Linux's /proc, in one place: the health sampler (CPU and RSS of a pid,
 * memory of a process tree) and containment (the descendants of a sandbox) parse the same files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Linux exposes /proc; elsewhere the sampler uses pidusage and containment `ps`. */
export const hasProcFs = existsSync('/proc/self/stat');

/** The fields of /proc/<pid>/stat that corral uses. */
export interface ProcStat {
  /** R, S, D, Z, ... */
  state: string;
  ppid: number;
  pgid: number;
  /** Session id. */
  sid: number;
  /** utime + stime, in clock ticks (USER_HZ). */
  cpuTicks: number;
  /** Resident set size, in bytes. */
  rssBytes: number;
  /** When the process started, in clock ticks since boot. */
  startTicks: number;
}

/** Parses the text of /proc/<pid>/stat. */
export function parseStat(text: string): ProcStat {
  // "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses, so split after the
  // last ')'. After comm: [0] state [1] ppid [2] pgrp [3] session ... [11] utime [12] stime ... [19] starttime ... [21] rss.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    sid: Number(fields[3]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    rssBytes: Number(fields[21]) * pageBytes(),
    startTicks: Number(fields[19]),
  };
}

/** /proc/<pid>/stat of a live process; undefined if it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

export interface ProcEntry extends ProcStat {
  pid: number;
}

/** Every live process (zombies left out: they are already dead); empty where there is no /proc. */
export function listProcesses(): ProcEntry[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcEntry[] = [];
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(name);
    const stat = readStat(pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') continue;
    out.push({ pid, ...stat });
  }
  return out;
}

/** Processes by parent pid. */
export function childrenByParent(processes: readonly ProcEntry[]): Map<number, ProcEntry[]> {
  const children = new Map<number, ProcEntry[]>();
  for (const entry of processes) {
    const siblings = children.get(entry.ppid);
    if (siblings === undefined) children.set(entry.ppid, [entry]);
    else siblings.push(entry);
  }
  return children;
}

/** The descendants of each root (by parent pid, roots excluded), as one list without duplicates. */
export function descendantsOf(
  roots: Iterable<number>,
  children: ReadonlyMap<number, readonly ProcEntry[]>,
): ProcEntry[] {
  const seen = new Set<number>();
  const out: ProcEntry[] = [];
  const stack = [...roots];
  for (const root of stack) seen.add(root);
  while (stack.length > 0) {
    for (const child of children.get(stack.pop() as number) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      out.push(child);
      stack.push(child.pid);
    }
  }
  return out;
}

/**
 * The descendants of `pid` from /proc/<pid>/task/<tid>/children, level by level: the cost follows the
 * size of the tree, not of the machine (a walk of all /proc reads every process's stat — tens of
 * milliseconds on a busy host — which a health sample every second cannot afford). Undefined where the
 * kernel has no `children` files (CONFIG_PROC_CHILDREN): then only a walk of /proc will do.
 */
export function descendantPids(pid: number): number[] | undefined {
  if (!existsSync(`/proc/${pid}/task/${pid}/children`)) return existsSync(`/proc/${pid}`) ? undefined : [];
  const out: number[] = [];
  const seen = new Set([pid]);
  const stack = [pid];
  while (stack.length > 0) {
    const parent = stack.pop() as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const task of tasks) {
      let text: string;
      try {
        text = readFileSync(`/proc/${parent}/task/${task}/children`, 'latin1');
      } catch {
        continue;
      }
      for (const field of text.split(' ')) {
        if (field === '' || field === '\n') continue;
        const child = Number(field);
        if (seen.has(child)) continue;
        seen.add(child);
        out.push(child);
        stack.push(child);
      }
    }
  }
  return out;
}

/**
 * True if the environment process `pid` started with holds `entry` ("NAME=value"). /proc/<pid>/environ
 * is the block given at exec, which a process rarely rewrites; it can be read for processes of the same
 * user (or by root).
 */
export function environHas(pid: number, entry: string): boolean {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  const needle = Buffer.from(`${entry}\0`);
  const at = environ.indexOf(needle);
  return at === 0 || (at > 0 && environ[at - 1] === 0);
}

/** Bytes per page: learnt once by comparing this process's RSS in pages (/proc/self/statm) and in bytes. */
let pageSize: number | undefined;
function pageBytes(): number {
  if (pageSize !== undefined) return pageSize;
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[1]);
    const ratio = process.memoryUsage().rss / pages;
    // The nearest power of two: the two readings are a few microseconds apart.
    pageSize = 2 ** Math.round(Math.log2(ratio));
  } catch {
    pageSize = 4096;
  }
  return pageSize;
}

/** True while `pid` runs; a zombie counts as gone where /proc tells. */
export function pidAlive(pid: number): boolean {
  if (hasProcFs) {
    const state = readStat(pid)?.state;
    return state !== undefined && state !== 'Z' && state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
