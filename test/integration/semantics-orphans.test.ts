// No orphans (DESIGN 2.8): when the host dies by SIGKILL, its child processes and their descendants
// exit within a few seconds, also a child stuck in synchronous code and a detached grandchild (its own
// session and group), over both containment mechanisms (README "Containment"); no cgroup is left.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { corralCgroups, removeCgroupTree } from '../cgroup-helpers.ts';
import { killLeftover, type PidTree, pidAlive, readPidTree, waitFor } from '../helpers.ts';

const ROOT = new URL('../../', import.meta.url);
const LIBRARY = new URL('src/index.ts', ROOT).href;
const FIXTURE = new URL('test/fixtures/spawn-grandchild.mjs', ROOT).href;

const HOST = `
import { WorkerExecutionMode, WorkerOrchestrator } from ${JSON.stringify(LIBRARY)};

const [busyPidFile, idlePidFile, busyDetachedPidFile, idleDetachedPidFile] = process.argv.slice(2);
const orch = new WorkerOrchestrator({ logger: false, maxConcurrentWorkers: 4 });
const options = {
  executionMode: WorkerExecutionMode.TRIGGERED,
  isolation: 'process',
  timeoutSeconds: Infinity,
  maxRetries: 0,
};
orch.registerWorker('busy', new URL(${JSON.stringify(FIXTURE)}), options);
orch.registerWorker('idle', new URL(${JSON.stringify(FIXTURE)}), options);
orch.registerWorker('busy-detached', new URL(${JSON.stringify(FIXTURE)}), options);
orch.registerWorker('idle-detached', new URL(${JSON.stringify(FIXTURE)}), options);
await orch.start();
void orch.triggerWorker('busy', { pidFile: busyPidFile, busy: true });
void orch.triggerWorker('idle', { pidFile: idlePidFile, busy: false });
void orch.triggerWorker('busy-detached', { pidFile: busyDetachedPidFile, busy: true, detachedGrandchild: true });
void orch.triggerWorker('idle-detached', { pidFile: idleDetachedPidFile, busy: false, detachedGrandchild: true });
process.stdout.write(JSON.stringify({ containment: orch.getStatus().containment }) + '\\n');
setInterval(() => {}, 1000);
`;

for (const mechanism of ['cgroup', 'process-group'] as const) {
  test(`no orphans (${mechanism}): SIGKILL of the host kills its children and grandchildren (busy and idle, detached or not)`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-orphans-'));
    const hostFile = join(dir, 'host.mjs');
    const names = ['busy', 'idle', 'busy-detached', 'idle-detached'];
    const pidFiles = names.map((name) => join(dir, `${name}.json`));
    writeFileSync(hostFile, HOST);

    const tracked = new Set<number>();
    let host: ChildProcess | undefined;
    t.after(() => {
      for (const pid of tracked) killLeftover(pid);
      if (host?.pid !== undefined && host.exitCode === null && host.signalCode === null) {
        host.kill('SIGKILL');
      }
      if (host?.pid !== undefined) for (const cgroup of corralCgroups(host.pid)) removeCgroupTree(cgroup);
      rmSync(dir, { recursive: true, force: true });
    });

    let output = '';
    host = spawn(process.execPath, ['--import', 'tsx', hostFile, ...pidFiles], {
      cwd: new URL('.', ROOT).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CORRAL_CONTAINMENT: mechanism },
    });
    host.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    host.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const hostExited = new Promise<void>((resolve) => host?.once('exit', () => resolve()));
    assert.ok(host.pid !== undefined, 'the host did not start');
    const hostPid = host.pid;
    tracked.add(hostPid);

    const trees = new Map<string, PidTree>();
    try {
      await waitFor(
        () => {
          names.forEach((name, i) => {
            const tree = trees.get(name) ?? readPidTree(pidFiles[i] as string);
            if (tree !== undefined) trees.set(name, tree);
          });
          if (host?.exitCode !== null) throw new Error('the host exited early');
          return trees.size === names.length;
        },
        20_000,
        'every worker to write its pid file',
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\nhost output:\n${output}`);
    }
    const pids = [...trees.values()].flatMap((tree) => [tree.child, tree.grandchild]);
    for (const pid of pids) tracked.add(pid);
    for (const pid of pids) assert.ok(pidAlive(pid), `pid ${pid} is not running before the host dies`);
    assert.ok(output.includes(`"containment":"${mechanism}"`), `the host uses ${mechanism}: ${output}`);
    if (mechanism === 'cgroup')
      assert.equal(corralCgroups(hostPid).length, 1, 'the orchestrator has a cgroup');

    host.kill('SIGKILL');
    await hostExited;
    const killedAt = Date.now();
    try {
      await waitFor(() => pids.every((pid) => !pidAlive(pid)), 5000, 'children and grandchildren to exit');
    } catch {
      const survivors = pids.filter(pidAlive);
      const described = [...trees].map(([name, tree]) => `${name}: ${tree.child} / ${tree.grandchild}`);
      assert.fail(
        `still alive ${Date.now() - killedAt} ms after the host's SIGKILL: ${survivors.join(', ')} ` +
          `(child / grandchild of ${described.join(', ')})`,
      );
    }
    await waitFor(
      () => corralCgroups(hostPid).length === 0,
      5000,
      "the reaper to remove the orchestrator's cgroup",
    );
  });
}
