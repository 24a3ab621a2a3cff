/**
 * Small, general helpers shared by the test suites: fixture paths, polling, and process checks
 * read from /proc (Linux).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Absolute path of a fixture worker module, e.g. `fixture('echo.mjs')`. */
export function fixture(name: string): string {
  return join(fixturesDir, name);
}

/**
 * Polls `predicate` every `intervalMs` until it returns a truthy value (which is returned) or
 * `timeoutMs` passes (then it throws, naming `what`).
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 5000,
  what = 'condition',
  intervalMs = 15,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** The state letter of a process from /proc/<pid>/stat (R, S, Z, ...), or undefined if there is none. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** True if process `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = procState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Live (non-zombie) descendants of `pid`, found by scanning /proc. */
export function childrenOf(pid: number = process.pid): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // exited while scanning
    }
  }
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        frontier.push(child);
      }
    }
  }
  return found;
}

/** The command line of a process (arguments joined by spaces), or '' if it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * Live descendants of this process less those of the test toolchain (tsx's esbuild service), i.e. the
 * processes the code under test started. Compare with a snapshot taken before to find leftovers.
 */
export function spawnedChildren(): number[] {
  return childrenOf(process.pid).filter((pid) => !/\/esbuild\b/.test(cmdline(pid)));
}

/** OS threads of this process (main, libuv, V8 and worker threads). */
export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

let tmpDir: string | undefined;

/** A fresh path (not created) in a temporary directory removed when the process exits. */
export function tmpFile(suffix = ''): string {
  if (tmpDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'corral-test-'));
    tmpDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return join(tmpDir, `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${suffix}`);
}

export type Settled<T = unknown> =
  | { ok: true; value: T; ms: number }
  | { ok: false; error: unknown; ms: number };

/**
 * Attaches a handler to `promise` at once (node:test fails on a rejection left unhandled even
 * briefly) and resolves with its outcome and how many ms after the call it settled.
 */
export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  const start = performance.now();
  return promise.then(
    (value) => ({ ok: true as const, value, ms: performance.now() - start }),
    (error: unknown) => ({ ok: false as const, error, ms: performance.now() - start }),
  );
}
