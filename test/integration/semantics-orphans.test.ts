// No orphans (DESIGN 2.8): when the host dies by SIGKILL, its child processes and their descendants
// exit within a few seconds, also a child stuck in synchronous code.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { killLeftover, type PidTree, pidAlive, readPidTree, waitFor } from '../helpers.ts';

const ROOT = new URL('../../', import.meta.url);
const LIBRARY = new URL('src/index.ts', ROOT).href;
const FIXTURE = new URL('test/fixtures/spawn-grandchild.mjs', ROOT).href;

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

test('no orphans: SIGKILL of the host kills its children and grandchildren (busy and idle)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-orphans-'));
  const hostFile = join(dir, 'host.mjs');
  const busyPidFile = join(dir, 'busy.json');
  const idlePidFile = join(dir, 'idle.json');
  writeFileSync(hostFile, HOST);

  const tracked = new Set<number>();
  let host: ChildProcess | undefined;
  t.after(() => {
    for (const pid of tracked) killLeftover(pid);
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

  let busy: PidTree | undefined;
  let idle: PidTree | undefined;
  try {
    await waitFor(
      () => {
        busy ??= readPidTree(busyPidFile);
        idle ??= readPidTree(idlePidFile);
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
