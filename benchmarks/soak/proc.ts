// What the soak reads in /proc: the host's thread count, and the processes it (or its chaos workers)
// left behind.
import { readdirSync, readFileSync } from 'node:fs';

export function procThreads(): number {
  const match = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match?.[1] ?? Number.NaN);
}

function readProc(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  cmd: string;
}

/** Live processes descended from this one (less tsx's esbuild service) or carrying the soak's `tag`. */
export function leftovers(tag: string): ProcInfo[] {
  const all: ProcInfo[] = [];
  const tagged = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const stat = readProc(entry, 'stat');
    if (stat === '') continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') continue;
    const cmd = readProc(entry, 'cmdline').split('\0').join(' ').trim();
    all.push({ pid: Number(entry), ppid: Number(fields[1]), cmd });
    if (cmd.includes(tag) || readProc(entry, 'environ').split('\0').includes(`CORRAL_SOAK_TAG=${tag}`)) {
      tagged.add(Number(entry));
    }
  }
  const isToolchain = (p: ProcInfo) => p.ppid === process.pid && /\/esbuild\b/.test(p.cmd);
  const found = new Map<number, ProcInfo>();
  const frontier = [process.pid];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const p of all) {
      if (p.ppid === parent && !found.has(p.pid) && !isToolchain(p)) {
        found.set(p.pid, p);
        frontier.push(p.pid);
      }
    }
  }
  for (const p of all) if (tagged.has(p.pid)) found.set(p.pid, p);
  return [...found.values()];
}
