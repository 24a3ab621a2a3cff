/**
 * Isolated workers (thread and process) and their resources: memory limits (DESIGN 1.3 memoryLimitMb,
 * 1.6 'memory'), heartbeats ('stalled'), health sampling in getStatus() (2.9), and a child flooding
 * its stdout (decisions: 200 lines/s forwarded to the logger).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import {
  assertReason,
  fixture,
  registerIsolated,
  runError,
  settle,
  useIsolatedOrchestrator,
  waitFor,
} from '../helpers.ts';

for (const isolation of ['thread', 'process'] as const) {
  describe(`isolation: ${isolation}`, () => {
    // ------------------------------------------------------------------ 8. memory
    if (isolation === 'thread') {
      it("leak-heap with memoryLimitMb 64: reason 'memory'", async (t) => {
        const { orch } = await useIsolatedOrchestrator(t);
        registerIsolated(orch, 'leak', fixture('leak-heap.mjs'), isolation, {
          memoryLimitMb: 64,
          maxRetries: 0,
          timeoutSeconds: 30,
        });
        registerIsolated(orch, 'echo', fixture('echo.mjs'), isolation);
        const outcome = await settle(orch.run('leak'));
        assertReason(runError(outcome), 'memory', 1);
        assert.equal(orch.getStatus().workerStates.leak?.lastFailureReason, 'memory');
        assert.equal(
          ((await orch.run('echo', 1)) as { payload: unknown }).payload,
          1,
          'the host still works',
        );
      });
    } else {
      it("leak-rss with memoryLimitMb 150 and healthSampleMs 100: reason 'memory'", async (t) => {
        const { orch } = await useIsolatedOrchestrator(t, { healthSampleMs: 100 });
        registerIsolated(orch, 'leak', fixture('leak-rss.mjs'), isolation, {
          memoryLimitMb: 150,
          maxRetries: 0,
          timeoutSeconds: 30,
          killGraceMs: 1000,
        });
        registerIsolated(orch, 'echo', fixture('echo.mjs'), isolation);
        // maxMb bounds the leak far above the limit, so a slow sampler cannot take the machine down.
        const outcome = await settle(orch.run('leak', { maxMb: 1024 }));
        assertReason(runError(outcome), 'memory', 1);
        assert.ok(outcome.ms < 15_000, `caught after ${Math.round(outcome.ms)} ms`);
        assert.equal(orch.getStatus().workerStates.leak?.lastFailureReason, 'memory');
        assert.equal(
          ((await orch.run('echo', 1)) as { payload: unknown }).payload,
          1,
          'the host still works',
        );
      });
    }

    // ------------------------------------------------------------------ 9. heartbeat
    it("no-heartbeat with heartbeatTimeoutSeconds 0.5: reason 'stalled'", async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'silent', fixture('no-heartbeat.mjs'), isolation, {
        heartbeatTimeoutSeconds: 0.5,
        maxRetries: 0,
        timeoutSeconds: 20,
      });
      const outcome = await settle(orch.run('silent'));
      assertReason(runError(outcome), 'stalled', 1);
      // beats for 200 ms, then silent: stalled ~700 ms after the function started (plus a cold start).
      assert.ok(outcome.ms <= 700 + 3000, `stalled after ${Math.round(outcome.ms)} ms`);
      assert.equal(orch.getStatus().workerStates.silent?.lastFailureReason, 'stalled');
    });

    it('heartbeat-ok: a run longer than heartbeatTimeoutSeconds that beats is not killed', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t);
      registerIsolated(orch, 'beating', fixture('heartbeat-ok.mjs'), isolation, {
        heartbeatTimeoutSeconds: 0.5,
        maxRetries: 0,
        timeoutSeconds: 20,
      });
      assert.equal(await orch.run('beating', { ms: 1200 }), 'done');
    });

    // ------------------------------------------------------------------ 16. health
    it('health: resources appear during a CPU-bound run and are kept after it', async (t) => {
      const { orch } = await useIsolatedOrchestrator(t, { healthSampleMs: 100 });
      registerIsolated(orch, 'cpu', fixture('cpu.mjs'), isolation, { timeoutSeconds: 20 });
      const pending = settle(orch.run('cpu', { ms: 1500 }));
      let seen: { cpuPercent: number; memoryBytes: number; sampledAt: string } | undefined;
      let lastSample: unknown;
      try {
        seen = await waitFor(
          () => {
            const state = orch.getStatus().workerStates.cpu;
            lastSample = state?.resources;
            const r = state?.resources;
            // Only a sample taken while the run is still in flight counts.
            return state?.running === true && r !== undefined && r.cpuPercent > 20 && r.memoryBytes > 0
              ? r
              : undefined;
          },
          3000,
          'a resources sample with cpuPercent > 20 and memoryBytes > 0 during the run',
        );
      } finally {
        const outcome = await pending;
        assert.equal(outcome.ok, true, `the cpu run succeeds: ${JSON.stringify(outcome)}`);
      }
      assert.ok(seen, `last sample seen: ${JSON.stringify(lastSample)}`);
      assert.ok(!Number.isNaN(Date.parse(seen.sampledAt)), 'sampledAt is an ISO timestamp');
      const after = orch.getStatus().workerStates.cpu;
      assert.equal(after?.running, false);
      assert.ok(after?.resources, 'resources are kept after the run ended');
      assert.ok(after.resources.memoryBytes > 0);
      assert.ok(!Number.isNaN(Date.parse(after.resources.sampledAt)));
    });

    // ------------------------------------------------------------------ 17. stdout flood
    if (isolation === 'process') {
      it('stdout-flood: the run succeeds, forwarded lines are rate limited, the host heap stays bounded', async (t) => {
        let floodLines = 0;
        let droppedReports = 0;
        const sink = new Writable({
          write(chunk: Buffer | string, _encoding, callback) {
            const text = chunk.toString();
            for (const line of text.split('\n')) {
              if (line.includes('flood line')) floodLines++;
              if (line.includes('"count"')) droppedReports++;
            }
            callback();
          },
        });
        const logger = pino({ level: 'info' }, sink);
        const { orch } = await useIsolatedOrchestrator(t, { logger });
        registerIsolated(orch, 'flood', fixture('stdout-flood.mjs'), isolation, {
          timeoutSeconds: 60,
          maxRetries: 0,
        });
        global.gc?.();
        const heapBefore = process.memoryUsage().heapUsed;
        let heapPeak = heapBefore;
        const sampler = setInterval(() => {
          heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
        }, 20);
        t.after(() => clearInterval(sampler));
        const started = Date.now();
        const result = await orch.run('flood', { lines: 200_000 });
        clearInterval(sampler);
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
        const seconds = (Date.now() - started) / 1000;
        assert.equal(result, 'flooded');
        // Lines still in the pipe when the run returned arrive a moment later; wait for the output to settle.
        let previous = -1;
        await waitFor(
          () => {
            const stable = floodLines === previous;
            previous = floodLines;
            return stable;
          },
          5000,
          'forwarded output to settle',
          300,
        );
        const growthMb = (heapPeak - heapBefore) / 1048576;
        assert.ok(growthMb < 100, `host heap grew ${growthMb.toFixed(1)} MB`);
        assert.ok(floodLines > 0, 'some lines reach the logger');
        // 200 lines/s: allow a generous margin for second-window edges and the time after the run.
        const bound = Math.ceil((seconds + 3) * 200) + 200;
        assert.ok(
          floodLines <= bound,
          `${floodLines} lines forwarded in ${seconds.toFixed(1)} s (bound ${bound})`,
        );
        assert.ok(floodLines < 200_000 / 10, `${floodLines} lines forwarded: far fewer than 200000`);
        t.diagnostic(
          `flood: ${floodLines} lines forwarded in ${seconds.toFixed(1)} s, drop reports ${droppedReports}, heap +${growthMb.toFixed(1)} MB`,
        );
      });
    }
  });
}
