/**
 * Isolated workers (thread and process) across runs: cancellation with run(..., { signal })
 * (DESIGN 1.4), recycleAfterRuns and idleTimeoutSeconds (1.3).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertReason,
  cmdline,
  fixture,
  type Isolation,
  pidAlive,
  registerIsolated,
  runError,
  settle,
  threadCount,
  tmpFile,
  tmpModule,
  useIsolatedOrchestrator,
  waitFor,
} from '../helpers.ts';

/** Lines record.mjs appended to `file`. */
function recorded(file: string): Array<{ payload: { tag?: string }; pid: number }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { payload: { tag?: string }; pid: number });
}

/** Tells where it runs: the pid and the thread id. */
const whereModule = tmpModule(
  `import { threadId } from 'node:worker_threads';
export default () => ({ pid: process.pid, threadId });
`,
);

interface Where {
  pid: number;
  threadId: number;
}

/** pid for process isolation, threadId for thread isolation: what tells sandboxes apart. */
function sandboxId(isolation: Isolation, where: Where): number {
  return isolation === 'process' ? where.pid : where.threadId;
}

for (const isolation of ['thread', 'process'] as const) {
  describe(`isolation: ${isolation}`, () => {
    // ------------------------------------------------------------------ 13. cancellation
    it("aborting a running run rejects 'aborted' quickly; not a dead letter; the worker still works", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'sleep', fixture('sleep.mjs'), isolation, { maxRetries: 2 });
      const controller = new AbortController();
      const pending = settle(orch.run('sleep', { ms: 5000 }, { signal: controller.signal }));
      await waitFor(() => orch.getStatus().workerStates.sleep?.running, 2000, 'the run to start');
      await sleep(300); // let the sandbox load the module and call the function
      const abortedAt = performance.now();
      controller.abort();
      const outcome = await pending;
      const took = performance.now() - abortedAt;
      assertReason(runError(outcome), 'aborted');
      assert.ok(took <= 1500, `rejected ${Math.round(took)} ms after the abort`);
      assert.equal(orch.deadLetters.list().length, 0, 'an aborted run is not a dead letter');
      const status = orch.getStatus().workerStates.sleep;
      assert.equal(status?.failures, 0, 'an aborted run does not count for the breaker');
      assert.equal(status?.breaker, 'closed');
      assert.equal(status?.running, false);
      assert.deepEqual(await orch.run('sleep', { ms: 10 }), { slept: 10 });
    });

    it('aborting a run whose function is known to be running terminates its sandbox', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'record', fixture('record.mjs'), isolation, { maxRetries: 0 });
      const file = tmpFile('.jsonl');
      const controller = new AbortController();
      const pending = settle(
        orch.run('record', { file, ms: 5000, tag: 'long' }, { signal: controller.signal }),
      );
      const [line] = await waitFor(() => recorded(file), 5000, 'the worker to record its start');
      const abortedAt = performance.now();
      controller.abort();
      const outcome = await pending;
      assertReason(runError(outcome), 'aborted');
      assert.ok(performance.now() - abortedAt <= 1500, 'rejected quickly');
      if (isolation === 'process') {
        const pid = line?.pid as number;
        assert.notEqual(pid, process.pid);
        await waitFor(() => !pidAlive(pid), 3000, `the aborted child ${pid} to be terminated`);
      }
      assert.equal(orch.deadLetters.list().length, 0);
      const again = (await orch.run('record', { file, tag: 'again' })) as { tag: string };
      assert.equal(again.tag, 'again');
    });

    it('aborting a queued run removes it: it never starts', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'record', fixture('record.mjs'), isolation, { concurrency: 1, maxRetries: 0 });
      const file = tmpFile('.jsonl');
      const first = settle(orch.run('record', { file, ms: 1500, tag: 'first' }));
      const controller = new AbortController();
      const queued = settle(orch.run('record', { file, tag: 'second' }, { signal: controller.signal }));
      assert.equal(orch.getStatus().workerStates.record?.queued, 1, 'the second run waits in the queue');
      await waitFor(() => recorded(file).length === 1, 5000, 'the first run to start');
      controller.abort();
      const outcome = await queued;
      const error = runError(outcome);
      assertReason(error, 'aborted', 0);
      assert.equal(orch.getStatus().workerStates.record?.queued, 0);
      const firstOutcome = await first;
      assert.equal(firstOutcome.ok, true, 'the run in front completes');
      await sleep(300); // the slot is free now: a run still queued would have started
      assert.deepEqual(
        recorded(file).map((entry) => entry.payload.tag),
        ['first'],
        'the aborted run never ran',
      );
      assert.equal(orch.deadLetters.list().length, 0);
      assert.equal(orch.getStatus().workerStates.record?.totals.runs, 1);
    });

    it("a signal already aborted: rejects 'aborted' with 0 attempts and never runs", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'record', fixture('record.mjs'), isolation);
      const file = tmpFile('.jsonl');
      const outcome = await settle(orch.run('record', { file }, { signal: AbortSignal.abort() }));
      assertReason(runError(outcome), 'aborted', 0);
      await sleep(200);
      assert.deepEqual(recorded(file), []);
    });

    // ------------------------------------------------------------------ 14. recycleAfterRuns
    it('recycleAfterRuns 1: every run gets a fresh sandbox', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'where', whereModule, isolation, { recycleAfterRuns: 1 });
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push(sandboxId(isolation, (await orch.run('where')) as Where));
      assert.equal(new Set(ids).size, 3, `three different sandboxes: ${ids.join(', ')}`);
      if (isolation === 'process') assert.ok(!ids.includes(process.pid));
      assert.equal(orch.getStatus().workerStates.where?.totals.succeeded, 3);
    });

    it('recycleAfterRuns 2: the sandbox changes every 2 runs', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'where', whereModule, isolation, { recycleAfterRuns: 2 });
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) ids.push(sandboxId(isolation, (await orch.run('where')) as Where));
      const [a, b, c, d] = ids;
      assert.equal(a, b, `runs 1 and 2 share a sandbox: ${ids.join(', ')}`);
      assert.equal(c, d, `runs 3 and 4 share a sandbox: ${ids.join(', ')}`);
      assert.notEqual(a, c, `runs 3 and 4 run in a new sandbox: ${ids.join(', ')}`);
    });

    // ------------------------------------------------------------------ 15. idleTimeoutSeconds
    if (isolation === 'process') {
      it('idleTimeoutSeconds 0.3: an idle child exits; the orchestrator keeps running', async (t) => {
        const { orch } = await useIsolatedOrchestrator(t);
        registerIsolated(orch, 'where', whereModule, isolation, { idleTimeoutSeconds: 0.3 });
        const first = (await orch.run('where')) as Where;
        assert.equal(
          cmdline(first.pid).includes('child-entry'),
          true,
          'the child sandbox runs after the run',
        );
        await waitFor(() => !pidAlive(first.pid), 3000, `the idle child ${first.pid} to exit`);
        assert.equal(orch.getStatus().state, 'running');
        const second = (await orch.run('where')) as Where;
        assert.notEqual(second.pid, first.pid, 'a new child for the next run');
      });
    } else {
      it('idleTimeoutSeconds 0.3: an idle thread is closed; the next run gets a new one', async (t) => {
        const { orch } = await useIsolatedOrchestrator(t);
        registerIsolated(orch, 'where', whereModule, isolation, { idleTimeoutSeconds: 0.3 });
        const threads = threadCount();
        const first = (await orch.run('where')) as Where;
        assert.ok(threadCount() > threads, 'the sandbox thread exists after the run');
        await waitFor(() => threadCount() <= threads, 3000, 'the idle thread to exit');
        assert.equal(orch.getStatus().state, 'running');
        const second = (await orch.run('where')) as Where;
        assert.notEqual(second.threadId, first.threadId, 'a new thread for the next run');
      });
    }

    it('without idleTimeoutSeconds the sandbox is kept between runs a while apart', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'where', whereModule, isolation);
      const first = (await orch.run('where')) as Where;
      await sleep(700);
      const second = (await orch.run('where')) as Where;
      assert.equal(sandboxId(isolation, second), sandboxId(isolation, first));
    });
  });
}
