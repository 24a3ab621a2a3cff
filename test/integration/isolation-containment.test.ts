/**
 * Containment of process sandboxes (README "Containment"): no process started from a sandbox outlives
 * it, whichever way the sandbox ends — success then stop(), idle close, recycle, timeout, stop() of a run
 * in flight — also helpers that left the sandbox's process group and session (`detached`, `setsid -f`,
 * a double fork); and memoryLimitMb counts the whole process tree. Every test runs over both mechanisms:
 * a cgroup v2 per sandbox (where the machine offers a writable one) and process groups with a /proc
 * snapshot (forced with CORRAL_CONTAINMENT=process-group). The host-SIGKILL path is in
 * semantics-orphans.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { OrchestratorOptions, WorkerOrchestrator } from '../../src/index.ts';
import { corralCgroups, ownCgroupDir, removeCgroupTree } from '../cgroup-helpers.ts';
import {
  assertReason,
  fixture,
  killLeftover,
  pidAlive,
  readPidTree,
  registerIsolated,
  runError,
  type Settled,
  settle,
  tmpFile,
  useIsolatedOrchestrator,
  waitFor,
} from '../helpers.ts';

type Mechanism = 'cgroup' | 'process-group';

interface Helper {
  child: number;
  helper: number;
}

/** What spawn-helper.mjs wrote to `file`, or undefined until it is complete. */
function readHelper(file: string): Helper | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const pids = JSON.parse(readFileSync(file, 'utf8')) as Helper;
    return Number.isInteger(pids.child) && Number.isInteger(pids.helper) ? pids : undefined;
  } catch {
    return undefined;
  }
}

/** A started orchestrator using `mechanism`; the test fails if a cgroup of it is left after stop(). */
async function contained(
  t: TestContext,
  mechanism: Mechanism,
  options: OrchestratorOptions = {},
): Promise<WorkerOrchestrator> {
  const saved = process.env.CORRAL_CONTAINMENT;
  process.env.CORRAL_CONTAINMENT = mechanism;
  let orch: WorkerOrchestrator;
  try {
    orch = (await useIsolatedOrchestrator(t, options, { threads: false })).orch;
  } finally {
    if (saved === undefined) delete process.env.CORRAL_CONTAINMENT;
    else process.env.CORRAL_CONTAINMENT = saved;
  }
  t.after(() => {
    const left = corralCgroups();
    for (const dir of left) removeCgroupTree(dir);
    assert.deepEqual(left, [], 'no cgroup is left after stop()');
  });
  return orch;
}

/** Waits for the helper a test started to be gone; kills it (cleanup) when the test ends either way. */
async function helperGone(t: TestContext, pids: Helper, what: string): Promise<void> {
  t.after(() => {
    killLeftover(pids.helper);
    killLeftover(pids.child);
  });
  await waitFor(() => !pidAlive(pids.helper), 5000, `the helper ${pids.helper} to be gone ${what}`);
  await waitFor(() => !pidAlive(pids.child), 5000, `the child ${pids.child} to be gone ${what}`);
}

/** The helper's pids, once the worker wrote them; the helper is cleaned up when the test ends. */
async function helperStarted(t: TestContext, pidFile: string): Promise<Helper> {
  const pids = await waitFor(() => readHelper(pidFile), 15_000, 'the worker to write its pids');
  t.after(() => killLeftover(pids.helper));
  assert.ok(pidAlive(pids.helper), 'the helper runs');
  return pids;
}

/** Registers spawn-helper.mjs as 'daemon' and starts a run that starts a `kind` helper, then hangs. */
async function startHanging(
  t: TestContext,
  orch: WorkerOrchestrator,
  kind: 'setsid' | 'double-fork',
  timeoutSeconds: number,
): Promise<{ pending: Promise<Settled>; pids: Helper }> {
  registerIsolated(orch, 'daemon', fixture('spawn-helper.mjs'), 'process', {
    timeoutSeconds,
    killGraceMs: 300,
    maxRetries: 0,
  });
  const pidFile = tmpFile('.json');
  const pending = settle(orch.run('daemon', { pidFile, kind, hang: true }));
  return { pending, pids: await helperStarted(t, pidFile) };
}

for (const mechanism of ['cgroup', 'process-group'] as const) {
  describe(`containment: ${mechanism}`, () => {
    it('getStatus().containment names the mechanism', async (t) => {
      const orch = await contained(t, mechanism);
      assert.equal(orch.getStatus().containment, mechanism);
    });

    it('a detached helper of a successful run is gone after stop()', async (t) => {
      const orch = await contained(t, mechanism);
      registerIsolated(orch, 'helper', fixture('spawn-helper.mjs'), 'process');
      const pidFile = tmpFile('.json');
      assert.equal(await orch.run('helper', { pidFile }), 'started');
      const pids = await helperStarted(t, pidFile);
      await orch.stop();
      await helperGone(t, pids, 'after stop()');
      assert.equal(orch.getStatus().containment, mechanism);
    });

    if (mechanism === 'cgroup') {
      it('empty cgroups left by a dead host are removed by the next host', async (t) => {
        const parent = ownCgroupDir() as string;
        const dead = spawnSync('true').pid as number;
        const stale = join(parent, `corral-${dead}-0badc0de`);
        mkdirSync(join(stale, 'sandbox-1'), { recursive: true });
        t.after(() => removeCgroupTree(stale));
        const orch = await contained(t, mechanism);
        registerIsolated(orch, 'echo', fixture('echo.mjs'), 'process');
        await orch.run('echo', 1);
        assert.equal(existsSync(stale), false, "the dead host's cgroup is gone");
      });
    }

    const closes = [
      { when: 'after the idle sandbox is closed', options: { idleTimeoutSeconds: 0.3 } },
      { when: 'after the sandbox is recycled', options: { recycleAfterRuns: 1 } },
    ];
    for (const { when, options } of closes) {
      it(`a detached helper of a successful run is gone ${when}`, async (t) => {
        const orch = await contained(t, mechanism);
        registerIsolated(orch, 'helper', fixture('spawn-helper.mjs'), 'process', options);
        const pidFile = tmpFile('.json');
        assert.equal(await orch.run('helper', { pidFile }), 'started');
        const pids = await helperStarted(t, pidFile);
        await helperGone(t, pids, when);
        assert.equal(orch.getStatus().containment, mechanism);
      });
    }

    for (const kind of ['setsid', 'double-fork'] as const) {
      it(`a ${kind} daemon is gone after a timeout`, async (t) => {
        const orch = await contained(t, mechanism);
        // 2.5 s: a cold child must have started its daemon before the deadline, even on a loaded machine.
        const { pending, pids } = await startHanging(t, orch, kind, 2.5);
        assertReason(runError(await pending), 'timeout', 1);
        await helperGone(t, pids, 'after the timeout');
        assert.equal(orch.getStatus().containment, mechanism);
      });
    }

    it('a setsid daemon of a run in flight is gone after stop()', async (t) => {
      const orch = await contained(t, mechanism, { shutdownTimeoutMs: 200 });
      const { pending, pids } = await startHanging(t, orch, 'setsid', 60);
      const report = await orch.stop();
      assert.deepEqual(report.terminated, ['daemon']);
      assertReason(runError(await pending), 'aborted');
      await helperGone(t, pids, 'after stop()');
      assert.equal(orch.getStatus().containment, mechanism);
    });

    it("memoryLimitMb counts the whole tree: a grandchild past the limit -> 'memory', nothing left", async (t) => {
      const orch = await contained(t, mechanism, { healthSampleMs: 100 });
      registerIsolated(orch, 'big', fixture('grandchild-alloc.mjs'), 'process', {
        memoryLimitMb: 200,
        maxRetries: 0,
        timeoutSeconds: 30,
        killGraceMs: 300,
      });
      const pidFile = tmpFile('.json');
      const pending = settle(orch.run('big', { pidFile, mb: 600 }));
      const tree = await waitFor(() => readPidTree(pidFile), 15_000, 'the worker to write its pids');
      t.after(() => killLeftover(tree.grandchild));
      const outcome = await pending;
      assertReason(runError(outcome), 'memory', 1);
      await waitFor(() => !pidAlive(tree.grandchild), 5000, `the grandchild ${tree.grandchild} to be gone`);
      await waitFor(() => !pidAlive(tree.child), 5000, `the child ${tree.child} to be gone`);
      const resources = orch.getStatus().workerStates.big?.resources;
      assert.ok(resources?.treeMemoryBytes !== undefined, 'resources carry the tree figure');
      assert.ok(resources.treeMemoryBytes > 200 * 1048576, `tree figure ${resources.treeMemoryBytes}`);
      assert.ok(resources.treeMemoryBytes > resources.memoryBytes, 'the tree holds more than the child');
      assert.equal(orch.getStatus().containment, mechanism);
    });
  });
}
