// No orphans (DESIGN 2.8): when the host dies by SIGKILL, its child processes and their descendants
// exit within a few seconds, also a child stuck in synchronous code.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url);
const LIBRARY = new URL('src/index.ts', ROOT).href;
const FIXTURE = new URL('test/fixtures/spawn-grandchild.mjs', ROOT).href;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Alive and not a zombie (a zombie has exited; only its parent has not reaped it yet). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself contain spaces or parens).
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // gone between the two checks
  }
}

const HOST = `
import { WorkerExecutionMode, WorkerOrchestrator } from ${JSON.stringify(LIBRARY)};

const [busyPidFile, idlePidFile] = process.argv.slice(2);
const orch = new WorkerOrchestrator({ logger: false });
const options = {
  executionMode: WorkerExecutionMode.TRIGGERED,
  isolation: 'process',
  timeoutSeconds: Infinity,
  maxRetries: 0,
};
orch.registerWorker('busy', new URL(${JSON.stringify(FIXTURE)}), options);
orch.registerWorker('idle', new URL(${JSON.stringify(FIXTURE)}), options);
await orch.start();
void orch.triggerWorker('busy', { pidFile: busyPidFile, busy: true });
void orch.triggerWorker('idle', { pidFile: idlePidFile, busy: false });
process.stdout.write('host ready\\n');
setInterval(() => {}, 1000);
`;

interface Pids {
  child: number;
  grandchild: number;
}

function readPids(file: string): Pids | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const pids = JSON.parse(readFileSync(file, 'utf8')) as Pids;
    return Number.isInteger(pids.child) && Number.isInteger(pids.grandchild) ? pids : undefined;
  } catch {
    return undefined; // still being written
  }
}

test('no orphans: SIGKILL of the host kills its children and grandchildren (busy and idle)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-orphans-'));
  const hostFile = join(dir, 'host.mjs');
  const busyPidFile = join(dir, 'busy.json');
  const idlePidFile = join(dir, 'idle.json');
  writeFileSync(hostFile, HOST);

  const tracked = new Set<number>();
  let host: ChildProcess | undefined;
  t.after(() => {
    for (const pid of tracked) {
      if (pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (host?.pid !== undefined && host.exitCode === null && host.signalCode === null) {
      host.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let output = '';
  host = spawn(process.execPath, ['--import', 'tsx', hostFile, busyPidFile, idlePidFile], {
    cwd: new URL('.', ROOT).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  host.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  host.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const hostExited = new Promise<void>((resolve) => host?.once('exit', () => resolve()));
  assert.ok(host.pid !== undefined, 'the host did not start');
  tracked.add(host.pid);

  let busy: Pids | undefined;
  let idle: Pids | undefined;
  try {
    await waitFor(
      () => {
        busy ??= readPids(busyPidFile);
        idle ??= readPids(idlePidFile);
        if (host?.exitCode !== null) throw new Error('the host exited early');
        return busy !== undefined && idle !== undefined;
      },
      20_000,
      'both workers to write their pid files',
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nhost output:\n${output}`);
  }
  assert.ok(busy !== undefined && idle !== undefined);
  const pids = [busy.child, busy.grandchild, idle.child, idle.grandchild];
  for (const pid of pids) tracked.add(pid);
  for (const pid of pids) assert.ok(pidAlive(pid), `pid ${pid} is not running before the host dies`);

  host.kill('SIGKILL');
  await hostExited;
  const killedAt = Date.now();
  try {
    await waitFor(() => pids.every((pid) => !pidAlive(pid)), 5000, 'children and grandchildren to exit');
  } catch {
    const survivors = pids.filter(pidAlive);
    assert.fail(
      `still alive ${Date.now() - killedAt} ms after the host's SIGKILL: ${survivors.join(', ')} ` +
        `(busy child ${busy.child}, busy grandchild ${busy.grandchild}, ` +
        `idle child ${idle.child}, idle grandchild ${idle.grandchild})`,
    );
  }
});
