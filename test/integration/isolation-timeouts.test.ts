/**
 * Isolated workers (thread and process) that have to be killed: timeouts (DESIGN 2.5), process trees
 * (SIGTERM, SIGKILL after killGraceMs, grandchildren), module load failures and hangs (1.6 'load',
 * 2.5 "the timeout clock covers the load"), and stop() terminating what still runs (2.7).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  assertReason,
  cmdline,
  fixture,
  killLeftover,
  type PidTree,
  pidAlive,
  readPidTree,
  registerIsolated,
  runError,
  settle,
  spawnedChildren,
  threadCount,
  tmpFile,
  useIsolatedOrchestrator,
  waitFor,
} from '../helpers.ts';

/** Child sandboxes of the host (the forked child-entry processes). */
function sandboxProcesses(): number[] {
  return spawnedChildren().filter((pid) => cmdline(pid).includes('child-entry'));
}

function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

for (const isolation of ['thread', 'process'] as const) {
  describe(`isolation: ${isolation}`, () => {
    // ------------------------------------------------------------------ 5. hang
    it("hang (busy loop): reason 'timeout' promptly, the sandbox is killed, the host keeps working", async (t) => {
      const { orch, threadsBefore } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'hang', fixture('hang.mjs'), isolation, { timeoutSeconds: 0.5, maxRetries: 0 });
      registerIsolated(orch, 'echo', fixture('echo.mjs'), isolation);
      const pending = settle(orch.run('hang'));
      let child: number | undefined;
      if (isolation === 'process') {
        child = await waitFor(() => sandboxProcesses()[0], 2000, 'the sandbox child to be forked', 5);
      } else {
        await waitFor(() => threadCount() > threadsBefore, 2000, 'the sandbox thread to start', 5);
      }
      const outcome = await pending;
      const error = runError(outcome);
      assertReason(error, 'timeout', 1);
      assert.ok(
        outcome.ms <= 500 + 1500,
        `settled ${Math.round(outcome.ms)} ms after run(), deadline 500 ms`,
      );
      const status = orch.getStatus().workerStates.hang;
      assert.equal(status?.totals.timeouts, 1);
      assert.equal(status?.running, false);
      if (child !== undefined) {
        const pid = child;
        await waitFor(() => !pidAlive(pid), 3000, `the timed-out child ${pid} to die`);
      } else {
        await waitFor(() => threadCount() <= threadsBefore, 3000, 'the timed-out thread to exit');
      }
      const echoed = (await orch.run('echo', 'still here')) as { payload: unknown };
      assert.equal(echoed.payload, 'still here');
      assert.equal(orch.getStatus().state, 'running');
    });

    it('hang with retries: each attempt times out, attempts = maxRetries + 1', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'hang', fixture('hang.mjs'), isolation, { timeoutSeconds: 0.4, maxRetries: 1 });
      const error = runError(await settle(orch.run('hang')));
      assertReason(error, 'timeout', 2);
      assert.equal(orch.getStatus().workerStates.hang?.totals.timeouts, 2);
    });

    // ------------------------------------------------------------------ 10. load
    it("syntax-error.js: reason 'load', one attempt even with maxRetries 3", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'syntax', fixture('syntax-error.js'), isolation, { maxRetries: 3 });
      const error = runError(await settle(orch.run('syntax')));
      assertReason(error, 'load', 1);
      assert.equal(orch.getStatus().workerStates.syntax?.totals.retries, 0);
      assert.equal(orch.deadLetters.list('syntax')[0]?.reason, 'load');
    });

    it("no-export.mjs: reason 'load', one attempt even with maxRetries 3", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'noexport', fixture('no-export.mjs'), isolation, { maxRetries: 3 });
      const error = runError(await settle(orch.run('noexport')));
      assertReason(error, 'load', 1);
    });

    it("load-hang.mjs: the timeout covers the module load -> 'timeout'", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'loadhang', fixture('load-hang.mjs'), isolation, {
        timeoutSeconds: 1,
        maxRetries: 0,
      });
      const outcome = await settle(orch.run('loadhang'));
      assertReason(runError(outcome), 'timeout', 1);
      assert.ok(
        outcome.ms <= 1000 + 1500,
        `settled ${Math.round(outcome.ms)} ms after run(), deadline 1000 ms`,
      );
    });

    it('load-slow.mjs (top-level await) succeeds', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'loadslow', fixture('load-slow.mjs'), isolation, { timeoutSeconds: 10 });
      assert.equal(await orch.run('loadslow'), 'loaded');
      assert.equal(await orch.run('loadslow'), 'loaded');
    });

    // ------------------------------------------------------------------ 18. stop
    it('stop() terminates a hanging run: report.terminated, reason aborted, nothing left', async (t) => {
      const { orch, threadsBefore } = await useIsolatedOrchestrator(t, { shutdownTimeoutMs: 300 });
      const pidFile = tmpFile('.json');
      if (isolation === 'process') {
        registerIsolated(orch, 'hang', fixture('spawn-grandchild.mjs'), isolation, {
          timeoutSeconds: 60,
          maxRetries: 2,
        });
      } else {
        registerIsolated(orch, 'hang', fixture('hang.mjs'), isolation, { timeoutSeconds: 60, maxRetries: 2 });
      }
      const pending = settle(orch.run('hang', { pidFile, busy: true }));
      let tree: PidTree | undefined;
      if (isolation === 'process') {
        tree = await waitFor(() => readPidTree(pidFile), 5000, 'the worker to write its pids');
        const { grandchild } = tree;
        t.after(() => killLeftover(grandchild));
      } else {
        await waitFor(() => threadCount() > threadsBefore, 2000, 'the sandbox thread to start', 5);
      }
      const report = await orch.stop();
      // Checked at once: stop() resolves only when no thread or child of the orchestrator is left.
      if (tree !== undefined) {
        assert.equal(pidAlive(tree.child), false, 'the child is dead when stop() resolves');
        assert.equal(pidAlive(tree.grandchild), false, 'the grandchild is dead when stop() resolves');
      }
      assert.ok(threadCount() <= threadsBefore, 'the thread has exited when stop() resolves');
      assert.deepEqual(report.terminated, ['hang']);
      assert.deepEqual(report.completed, []);
      assert.equal(report.dropped, 0);
      const error = runError(await pending);
      assertReason(error, 'aborted');
      assert.equal(orch.deadLetters.list().length, 0, 'an aborted run is not a dead letter');
      assert.equal(orch.getStatus().state, 'stopped');
      assert.equal(orch.getStatus().workerStates.hang?.failures, 0, 'aborted runs do not feed the breaker');
    });

    if (isolation === 'process') {
      // ---------------------------------------------------------------- 6. SIGTERM ignored
      it('ignore-sigterm: the run fails at the deadline, the child is SIGKILLed after killGraceMs', async (t) => {
        const { orch } = await useIsolatedOrchestrator(t);
        // timeoutSeconds 2.5 rather than 0.5: a cold child (tsx) must have loaded the module and installed its
        // SIGTERM handler before the deadline — also on a loaded machine — or the test would not exercise the
        // SIGKILL path.
        registerIsolated(orch, 'stubborn', fixture('ignore-sigterm.mjs'), isolation, {
          timeoutSeconds: 2.5,
          killGraceMs: 300,
          maxRetries: 0,
        });
        const pidFile = tmpFile('.pid');
        let aliveAtRejection: boolean | undefined;
        const pending = settle(
          orch.run('stubborn', { pidFile }).catch((error: unknown) => {
            const pid = readPid(pidFile);
            aliveAtRejection = pid !== undefined && pidAlive(pid);
            throw error;
          }),
        );
        const child = await waitFor(() => readPid(pidFile), 10_000, 'the worker to write its pid');
        const outcome = await pending;
        const rejectedAt = Date.now();
        assertReason(runError(outcome), 'timeout', 1);
        assert.ok(
          outcome.ms <= 2500 + 1000,
          `settled ${Math.round(outcome.ms)} ms after run(), deadline 2500 ms`,
        );
        assert.equal(aliveAtRejection, true, 'the run failed at the deadline, before the kill finished');
        await waitFor(() => !pidAlive(child), 3000, `the SIGTERM-ignoring child ${child} to be SIGKILLed`);
        const diedAfter = Date.now() - rejectedAt;
        assert.ok(diedAfter <= 3000, `died ${diedAfter} ms after the rejection`);
      });

      it('stop() waits until a SIGTERM-ignoring child is SIGKILLed', async (t) => {
        const { orch } = await useIsolatedOrchestrator(t, { shutdownTimeoutMs: 200 });
        registerIsolated(orch, 'stubborn', fixture('ignore-sigterm.mjs'), isolation, {
          timeoutSeconds: 60,
          killGraceMs: 300,
          maxRetries: 0,
        });
        const pidFile = tmpFile('.pid');
        const pending = settle(orch.run('stubborn', { pidFile }));
        const child = await waitFor(() => readPid(pidFile), 10_000, 'the worker to write its pid');
        const report = await orch.stop();
        assert.equal(pidAlive(child), false, 'the child is dead when stop() resolves');
        assert.deepEqual(report.terminated, ['stubborn']);
        assertReason(runError(await pending), 'aborted');
      });

      // ---------------------------------------------------------------- 7. process trees
      const variants = [
        { busy: true, detachedGrandchild: false },
        { busy: false, detachedGrandchild: false },
        { busy: true, detachedGrandchild: true },
        { busy: false, detachedGrandchild: true },
      ];
      for (const variant of variants) {
        it(`spawn-grandchild ${JSON.stringify(variant)}: after the timeout child and grandchild die`, async (t) => {
          const { orch } = await useIsolatedOrchestrator(t);
          // 2.5 s: the cold child must have spawned its grandchild before the deadline, even under load.
          registerIsolated(orch, 'tree', fixture('spawn-grandchild.mjs'), isolation, {
            timeoutSeconds: 2.5,
            killGraceMs: 300,
            maxRetries: 0,
          });
          const pidFile = tmpFile('.json');
          const pending = settle(orch.run('tree', { pidFile, ...variant }));
          const tree = await waitFor(() => readPidTree(pidFile), 10_000, 'the worker to write its pids');
          t.after(() => killLeftover(tree.grandchild));
          assert.equal(pidAlive(tree.grandchild), true, 'the grandchild runs');
          const outcome = await pending;
          assertReason(runError(outcome), 'timeout', 1);
          assert.ok(outcome.ms <= 2500 + 1500, `settled ${Math.round(outcome.ms)} ms after run()`);
          await waitFor(() => !pidAlive(tree.child), 5000, `child ${tree.child} to die`);
          await waitFor(() => !pidAlive(tree.grandchild), 5000, `grandchild ${tree.grandchild} to die`);
        });
      }
    }
  });
}
