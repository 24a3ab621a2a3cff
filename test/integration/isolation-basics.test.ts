/**
 * Isolated workers (thread and process): results, errors, crashes, load of the module's context and
 * sandbox reuse. DESIGN 1.3, 1.6, 2.6; decisions: failure reasons.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertReason,
  fixture,
  registerIsolated,
  runError,
  settle,
  tmpModule,
  useIsolatedOrchestrator,
} from '../helpers.ts';

const probeModule = tmpModule(`
import { isMainThread, threadId } from 'node:worker_threads';
export default function probe(ctx) {
  return {
    payload: ctx.payload,
    name: ctx.name,
    attempt: ctx.attempt,
    configName: ctx.config.name,
    configTimeoutSeconds: ctx.config.timeoutSeconds,
    configIsolation: ctx.config.isolation,
    signalIsAbortSignal: ctx.signal instanceof AbortSignal,
    heartbeatIsFunction: typeof ctx.heartbeat === 'function',
    pid: process.pid,
    threadId,
    isMainThread,
  };
}
`);

/** Exits with payload.exit when asked; otherwise tells where it runs. */
const exitWhenAskedModule = tmpModule(`
import { threadId } from 'node:worker_threads';
export default function exitWhenAsked(ctx) {
  if (ctx.payload?.exit !== undefined) process.exit(ctx.payload.exit);
  return { pid: process.pid, threadId };
}
`);

/** Returns an uncloneable result when asked; otherwise tells where it runs. */
const uncloneableWhenAskedModule = tmpModule(`
import { threadId } from 'node:worker_threads';
export default function maybeUncloneable(ctx) {
  if (ctx.payload?.bad) return { ok: true, fn: () => 42, big: 42n };
  return { pid: process.pid, threadId };
}
`);

interface Where {
  pid: number;
  threadId: number;
}

for (const isolation of ['thread', 'process'] as const) {
  describe(`isolation: ${isolation}`, () => {
    // ------------------------------------------------------------------ 1. round trip
    it('echo round-trip: run() resolves with the value; payload, attempt and name reach the worker', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'echo', fixture('echo.mjs'), isolation);
      const payload = { n: 1, list: [1, 'two', { three: 3 }], text: 'héllo' };
      const result = (await orch.run('echo', payload)) as Record<string, unknown>;
      assert.deepEqual(result.payload, payload);
      assert.equal(result.attempt, 1);
      assert.equal(result.name, 'echo');
      if (isolation === 'thread') {
        assert.equal(result.isMainThread, false, 'a thread worker runs off the main thread');
        assert.equal(result.pid, process.pid, 'a thread worker runs in the host process');
      } else {
        assert.notEqual(result.pid, process.pid, 'a process worker runs in another process');
        assert.equal(result.isMainThread, true);
      }
      const status = orch.getStatus().workerStates.echo;
      assert.equal(status?.totals.succeeded, 1);
      assert.equal(status?.running, false);
    });

    it('ctx.config (name, timeoutSeconds, isolation), ctx.signal and ctx.heartbeat are visible in the worker', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'probe', probeModule, isolation, { timeoutSeconds: 17 });
      const result = (await orch.run('probe', 'p')) as Record<string, unknown>;
      assert.equal(result.payload, 'p');
      assert.equal(result.name, 'probe');
      assert.equal(result.attempt, 1);
      assert.equal(result.configName, 'probe');
      assert.equal(result.configTimeoutSeconds, 17);
      assert.equal(result.configIsolation, isolation);
      assert.equal(result.signalIsAbortSignal, true);
      assert.equal(result.heartbeatIsFunction, true);
      // The static config is sent once per sandbox: it must still be there on a reused one.
      const again = (await orch.run('probe', 'q')) as Record<string, unknown>;
      assert.equal(again.configName, 'probe');
      assert.equal(again.configTimeoutSeconds, 17);
      assert.equal(again.payload, 'q');
    });

    it('the sandbox is reused across runs (same thread / same pid)', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'probe', probeModule, isolation);
      const first = (await orch.run('probe')) as Where & { isMainThread: boolean };
      const second = (await orch.run('probe')) as Where;
      assert.equal(second.pid, first.pid);
      assert.equal(second.threadId, first.threadId);
      if (isolation === 'process') assert.notEqual(first.pid, process.pid);
      else assert.notEqual(first.threadId, 0, 'not the main thread');
    });

    it('a CommonJS module (module.exports) works', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'cjs', fixture('echo.cjs'), isolation);
      assert.deepEqual(await orch.run('cjs', { a: 1 }), { payload: { a: 1 }, cjs: true });
    });

    // ------------------------------------------------------------------ 2. errors
    it("throw: reason 'error', attempts = maxRetries + 1, cause keeps code 'E_BOOM'", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'throw', fixture('throw.mjs'), isolation, { maxRetries: 2 });
      const error = runError(await settle(orch.run('throw')));
      assertReason(error, 'error', 3);
      assert.equal(error.worker, 'throw');
      const cause = error.cause as Error & { code?: unknown };
      assert.ok(cause instanceof Error, 'cause is an Error');
      assert.equal(cause.code, 'E_BOOM');
      assert.equal(cause.message, 'boom');
      const status = orch.getStatus().workerStates.throw;
      assert.equal(status?.totals.retries, 2);
      assert.equal(status?.totals.failed, 1);
      assert.equal(status?.totals.crashes, 0);
      assert.equal(status?.lastFailureReason, 'error');
      assert.equal(orch.deadLetters.list('throw').length, 1);
    });

    it('throw-nonretryable: one attempt despite maxRetries 3', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'fatal', fixture('throw-nonretryable.mjs'), isolation, { maxRetries: 3 });
      const error = runError(await settle(orch.run('fatal')));
      assertReason(error, 'error', 1);
      const cause = error.cause as Error & { code?: unknown; retryable?: unknown };
      assert.equal(cause.code, 'E_FATAL');
      assert.equal(cause.retryable, false);
      assert.equal(orch.getStatus().workerStates.fatal?.totals.retries, 0);
    });

    it("custom-error: cause keeps name 'ValidationError', code and details", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'custom', fixture('custom-error.mjs'), isolation, { maxRetries: 0 });
      const error = runError(await settle(orch.run('custom')));
      assertReason(error, 'error', 1);
      const cause = error.cause as Error & { code?: unknown; details?: unknown };
      assert.equal(cause.name, 'ValidationError');
      assert.equal(cause.code, 'E_VALIDATION');
      assert.deepEqual(cause.details, { field: 'x' });
      assert.equal(cause.message, 'invalid input');
    });

    it("async-throw: a rejected promise is reason 'error'", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'async', fixture('async-throw.mjs'), isolation, { maxRetries: 1 });
      const error = runError(await settle(orch.run('async')));
      assertReason(error, 'error', 2);
      assert.equal((error.cause as Error).message, 'async boom');
    });

    // ------------------------------------------------------------------ 3. exit
    it("exit: reason 'crash', the exit code is kept in the message, totals.crashes counts it", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'exit', fixture('exit.mjs'), isolation, { maxRetries: 0 });
      const error = runError(await settle(orch.run('exit', { code: 7 })));
      assertReason(error, 'crash', 1);
      assert.match((error.cause as Error).message, /\b7\b/, 'the cause names exit code 7');
      assert.match(error.message, /\b7\b/, 'the RunError message names exit code 7');
      assert.equal(orch.getStatus().workerStates.exit?.totals.crashes, 1);

      const again = runError(await settle(orch.run('exit')));
      assertReason(again, 'crash', 1);
      assert.match((again.cause as Error).message, /\b3\b/, 'the default exit code 3 is named');
      assert.equal(orch.getStatus().workerStates.exit?.totals.crashes, 2);
    });

    it('after a crash the next run of the same worker succeeds in a replaced sandbox', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'exiter', exitWhenAskedModule, isolation, { maxRetries: 0 });
      const before = (await orch.run('exiter')) as Where;
      const error = runError(await settle(orch.run('exiter', { exit: 5 })));
      assertReason(error, 'crash', 1);
      assert.match((error.cause as Error).message, /\b5\b/);
      const after = (await orch.run('exiter')) as Where;
      if (isolation === 'process') assert.notEqual(after.pid, before.pid, 'a new child process');
      else assert.notEqual(after.threadId, before.threadId, 'a new thread');
      const status = orch.getStatus().workerStates.exiter;
      assert.equal(status?.totals.crashes, 1);
      assert.equal(status?.totals.succeeded, 2);
      assert.equal(status?.failures, 0, 'success reset consecutive failures');
    });

    it('a crash retried: every attempt crashes, attempts = maxRetries + 1', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'exit', fixture('exit.mjs'), isolation, { maxRetries: 1 });
      const error = runError(await settle(orch.run('exit', { code: 9 })));
      assertReason(error, 'crash', 2);
      assert.equal(orch.getStatus().workerStates.exit?.totals.crashes, 2);
    });

    // ------------------------------------------------------------------ 4. uncaught
    it("uncaught error thrown from a timer during the run: reason 'crash'", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'uncaught', fixture('uncaught.mjs'), isolation, { maxRetries: 0 });
      const error = runError(await settle(orch.run('uncaught')));
      assertReason(error, 'crash', 1);
      assert.equal(orch.getStatus().workerStates.uncaught?.totals.crashes, 1);
    });

    // ------------------------------------------------------------------ 11. stray timer
    it('stray-timer: an error thrown after a run ended does not fail a later, unrelated run', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'stray', fixture('stray-timer.mjs'), isolation, { maxRetries: 0 });
      assert.equal(await orch.run('stray'), 'ok');
      await sleep(200); // let the stray timer (20 ms) fire while the sandbox is idle
      assert.equal(await orch.run('stray', { delayMs: 5000 }), 'ok');
      const status = orch.getStatus().workerStates.stray;
      assert.equal(status?.totals.succeeded, 2);
      assert.equal(status?.totals.failed, 0);
    });

    // ------------------------------------------------------------------ 12. uncloneable result
    it("result-uncloneable: reason 'error' (not 'crash')", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'uncloneable', fixture('result-uncloneable.mjs'), isolation, { maxRetries: 0 });
      const error = runError(await settle(orch.run('uncloneable')));
      assertReason(error, 'error', 1);
      assert.equal(orch.getStatus().workerStates.uncloneable?.totals.crashes, 0);
    });

    it("a payload too deep to clone (100,000 levels): reason 'error' after 1 attempt, no crash", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'echo', fixture('echo.mjs'), isolation, { maxRetries: 3 });
      const root: { next?: object } = {};
      let level = root;
      for (let i = 0; i < 100_000; i++) {
        const next = {};
        level.next = next;
        level = next;
      }
      const error = runError(await settle(orch.run('echo', root)));
      assertReason(error, 'error', 1);
      const totals = orch.getStatus().workerStates.echo?.totals;
      assert.equal(totals?.crashes, 0, 'not a crash');
      assert.equal(totals?.retries, 0, 'not retried');
      assert.deepEqual(((await orch.run('echo', 1)) as { payload: unknown }).payload, 1);
    });

    it('after an uncloneable result, the next run on the same worker works', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, {}, { threads: false });
      registerIsolated(orch, 'maybe', uncloneableWhenAskedModule, isolation, { maxRetries: 0 });
      const error = runError(await settle(orch.run('maybe', { bad: true })));
      assertReason(error, 'error', 1);
      const result = (await orch.run('maybe', { bad: false })) as Where;
      assert.equal(typeof result.pid, 'number');
      // Another worker of the same kind also still works.
      registerIsolated(orch, 'echo', fixture('echo.mjs'), isolation);
      assert.deepEqual(((await orch.run('echo', 1)) as { payload: unknown }).payload, 1);
    });
  });
}
