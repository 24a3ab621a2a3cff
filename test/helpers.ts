/**
 * Small, general helpers shared by the test suites: fixture paths, polling, process checks read from
 * /proc (Linux), orchestrator set-up with clean-up, and assertions on the errors the library throws.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  type FailureReason,
  OrchestratorError,
  type OrchestratorOptions,
  RunError,
  WorkerExecutionMode,
  type WorkerOptions,
  WorkerOrchestrator,
} from '../src/index.ts';
import { resolveWorker } from '../src/options.ts';
import { newRun, type Run, type RunOrigin } from '../src/run.ts';
import { WorkerRecord } from '../src/worker-record.ts';

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

/** A worker module written for a test (fixtures cannot be changed): `source` is its code; returns its path. */
export function tmpModule(source: string): string {
  const file = tmpFile('.mjs');
  writeFileSync(file, source);
  return file;
}

/** The pids spawn-grandchild.mjs writes to its pidFile: its own and its grandchild's. */
export interface PidTree {
  child: number;
  grandchild: number;
}

/** The PidTree spawn-grandchild.mjs wrote to `file`, or undefined until it is complete. */
export function readPidTree(file: string): PidTree | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const pids = JSON.parse(readFileSync(file, 'utf8')) as PidTree;
    return Number.isInteger(pids.child) && Number.isInteger(pids.grandchild) ? pids : undefined;
  } catch {
    return undefined; // still being written
  }
}

/** Cleanup only: SIGKILLs `pid`, a process a test started that the library failed to kill, if it lives. */
export function killLeftover(pid: number): void {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
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

/** A WorkerOrchestrator with `logger: false` plus `options`, stopped when the test ends (then `afterStop` runs). */
export function useOrchestrator(
  t: TestContext,
  options: OrchestratorOptions = {},
  afterStop?: () => void,
): WorkerOrchestrator {
  const orch = new WorkerOrchestrator({ logger: false, ...options });
  t.after(async () => {
    await orch.stop();
    afterStop?.();
  });
  return orch;
}

/** A started useOrchestrator whose stop() must leave no child process (nor, with `threads`, thread) behind. */
export async function useIsolatedOrchestrator(
  t: TestContext,
  options: OrchestratorOptions = {},
  { threads = true } = {},
): Promise<{ orch: WorkerOrchestrator; threadsBefore: number }> {
  // Start libuv's thread pool first, so that the thread count only moves with the orchestrator's threads.
  if (threads) await readFile(fixture('echo.mjs'));
  const threadsBefore = threadCount();
  const before = new Set(spawnedChildren());
  const orch = useOrchestrator(t, options, () => {
    const left = spawnedChildren().filter((pid) => !before.has(pid));
    assert.deepEqual(left, [], 'no child process of the orchestrator is left after stop()');
    if (threads)
      assert.ok(threadCount() <= threadsBefore, 'no thread of the orchestrator is left after stop()');
  });
  await orch.start();
  return { orch, threadsBefore };
}

/** The two isolations the isolation suites run every test in. */
export type Isolation = 'thread' | 'process';

/** Registers a TRIGGERED module worker in `isolation` (timeoutSeconds 30, retryDelayMs 10, then `options`). */
export function registerIsolated(
  orch: WorkerOrchestrator,
  name: string,
  file: string,
  isolation: Isolation,
  options: WorkerOptions = {},
): void {
  orch.registerWorker(name, file, {
    executionMode: WorkerExecutionMode.TRIGGERED,
    isolation,
    timeoutSeconds: 30,
    retryDelayMs: 10,
    ...options,
  });
}

/** The RunError a settled run failed with (asserting that it failed with one). */
export function runError(outcome: Settled): RunError {
  assert.equal(outcome.ok, false, `the run should fail, it returned ${JSON.stringify(outcome)}`);
  const error = (outcome as { error: unknown }).error;
  assert.ok(error instanceof RunError, `expected a RunError, got ${String(error)}`);
  return error;
}

/** Asserts the failure reason of `error` and, if given, its number of attempts. */
export function assertReason(error: RunError, reason: FailureReason, attempts?: number): void {
  assert.equal(error.reason, reason, `reason (message: ${error.message})`);
  if (attempts !== undefined) assert.equal(error.attempts, attempts, 'attempts');
}

/** For assert.throws/rejects: an OrchestratorError with `code` whose message names every `inMessage`. */
export function isCode(code: string, ...inMessage: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof OrchestratorError, `expected an OrchestratorError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const text of inMessage) {
      assert.ok(error.message.includes(text), `message "${error.message}" does not name ${text}`);
    }
    return true;
  };
}

/** For assert.rejects: a RunError with `reason` and, if given, that number of attempts. */
export function isRunError(reason: string, attempts?: number) {
  return (error: unknown) => {
    assert.ok(error instanceof RunError, `expected a RunError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    if (attempts !== undefined) assert.equal(error.attempts, attempts);
    return true;
  };
}

/** A gate a worker waits on: `open()` lets every waiting run finish. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Unit tests: a WorkerRecord for an inline no-op worker with `options` resolved as registerWorker would. */
export function makeWorker(name: string, options: WorkerOptions = {}): WorkerRecord {
  const fn = () => undefined;
  return new WorkerRecord(name, { kind: 'function', fn }, resolveWorker(name, fn, options).options);
}

/** Unit tests: a fresh queued Run of `worker` numbered `seq`, with `origin`. */
export function makeRun(worker: WorkerRecord, seq = 1, origin: RunOrigin = 'run'): Run {
  return newRun({
    id: `${worker.name}#${seq}`,
    worker,
    payload: undefined,
    origin,
    seq,
    startedAt: 0,
    enqueuedAt: 0,
  });
}

// ------------------------------------------------------------------ server-sent events

export interface SseFrame {
  event?: string;
  data?: string;
  comment?: string;
}

/** Opens `GET /events` of the server at `base` and collects its frames; `abort()` disconnects. */
export async function openEvents(base: string) {
  const controller = new AbortController();
  const res = await fetch(new URL('events', base), { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const frames: SseFrame[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const frame: SseFrame = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim();
            else if (line.startsWith('event: ')) frame.event = line.slice(7);
            else if (line.startsWith('data: ')) frame.data = line.slice(6);
          }
          frames.push(frame);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by the test
    } finally {
      ended = true;
    }
  })();
  return {
    frames,
    get ended() {
      return ended;
    },
    /** The first event frame `name` whose data satisfies `where`, parsed. */
    async next(
      name: string,
      where: (data: Record<string, unknown>) => boolean = () => true,
      timeoutMs = 5000,
    ) {
      const frame = await waitFor(
        () =>
          frames.find(
            (f) => f.event === name && where(JSON.parse(f.data as string) as Record<string, unknown>),
          ),
        timeoutMs,
        `event ${name}`,
      );
      return JSON.parse(frame.data as string) as Record<string, unknown>;
    },
    async abort() {
      controller.abort();
      await pump;
    },
    pump,
  };
}
