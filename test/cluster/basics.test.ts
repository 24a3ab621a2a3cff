import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { OrchestratorError, RunError, WorkerExecutionMode, WorkerOrchestrator } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { freePort, orchestrator, startRedis, startRedisCluster } from './harness.ts';

const TRIGGERED = { executionMode: WorkerExecutionMode.TRIGGERED };

test('cluster options are validated at construction', () => {
  const bad: [unknown, RegExp][] = [
    [{ cluster: { redis: 'redis://x', lockMs: 999 } }, /cluster\.lockMs/],
    [{ cluster: { redis: 'redis://x', lockMs: 1500.5 } }, /cluster\.lockMs/],
    [{ cluster: {} }, /cluster\.redis/],
    [{ cluster: { redis: 42 } }, /cluster\.redis/],
    [{ cluster: { redis: 'redis://x', name: 'a{b}' } }, /cluster\.name/],
    [{ cluster: { redis: 'redis://x', execute: 'yes' } }, /cluster\.execute/],
    [{ cluster: { redis: 'redis://x', hostId: '' } }, /cluster\.hostId/],
    [{ cluster: { redis: 'redis://x', nope: 1 } }, /cluster\.nope/],
    [{ cluster: { redis: 'redis://x' }, store: '/tmp/x.db' }, /store/],
    [{ cluster: 'redis://x' }, /cluster/],
    [{ cluster: { redis: { nodes: [] } } }, /cluster\.redis\.nodes/],
    [{ cluster: { redis: { nodes: [42] } } }, /cluster\.redis\.nodes/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => new WorkerOrchestrator(options as never),
      (error: unknown) =>
        error instanceof OrchestratorError &&
        error.code === 'ERR_INVALID_OPTION' &&
        message.test(error.message),
      JSON.stringify(options),
    );
  }
  // 'memory' may stand beside cluster; nothing connects before start().
  new WorkerOrchestrator({
    logger: false,
    store: 'memory',
    cluster: { redis: { host: '127.0.0.1', port: 1 } },
  });
});

for (const kind of ['one Redis', 'a Redis Cluster'] as const) {
  test(`${kind} unreachable at start: ERR_STORE, stopped, nothing left reconnecting`, async (t) => {
    const port = await freePort();
    const redis =
      kind === 'one Redis' ? `redis://127.0.0.1:${port}` : { nodes: [{ host: '127.0.0.1', port }] };
    const orch = orchestrator(t, { cluster: { redis } });
    orch.registerWorker('w', () => 1, TRIGGERED);
    const handles = process.getActiveResourcesInfo().filter((r) => r === 'TCPWRAP' || r === 'Timeout').length;
    await assert.rejects(orch.start(), (error: unknown) => {
      assert.ok(error instanceof OrchestratorError && error.code === 'ERR_STORE', String(error));
      assert.match(error.message, kind === 'one Redis' ? /ECONNREFUSED/ : /Redis Cluster nodes/);
      return true;
    });
    assert.equal(orch.getStatus().state, 'stopped');
    await waitFor(
      () =>
        process.getActiveResourcesInfo().filter((r) => r === 'TCPWRAP' || r === 'Timeout').length <= handles,
      5000,
      'no connection or timer left',
    );
    await assert.rejects(
      orch.run('w'),
      (error: unknown) => error instanceof OrchestratorError && error.code === 'ERR_NOT_RUNNING',
    );
  });
}

test('a second live host with the same hostId: ERR_STORE', async (t) => {
  const redis = await startRedis(t);
  const a = orchestrator(t, { cluster: { redis: redis.url, hostId: 'same' } });
  const b = orchestrator(t, { cluster: { redis: redis.url, hostId: 'same' } });
  await a.start();
  await assert.rejects(
    b.start(),
    (error: unknown) =>
      error instanceof OrchestratorError && error.code === 'ERR_STORE' && /same/.test(error.message),
  );
  assert.equal(b.getStatus().state, 'stopped');
  await a.stop();
  await b.start();
});

test('run() on a host that executes nothing settles with the outcome from the host that ran it', async (t) => {
  const redis = await startRedis(t);
  const caller = orchestrator(t, { cluster: { redis: redis.url, hostId: 'caller', execute: false } });
  const runner = orchestrator(t, { cluster: { redis: redis.url, hostId: 'runner' } });
  const ranOn: string[] = [];
  caller.registerWorker('echo', () => 'never here', TRIGGERED);
  runner.registerWorker(
    'echo',
    (ctx) => {
      ranOn.push('runner');
      if ((ctx.payload as { fail?: boolean })?.fail) throw new Error('boom');
      return { got: ctx.payload, attempt: ctx.attempt };
    },
    { ...TRIGGERED, maxRetries: 1, retryDelayMs: 10 },
  );
  await caller.start();
  await runner.start();
  assert.deepEqual(await caller.run('echo', { n: 1 }), { got: { n: 1 }, attempt: 1 });
  assert.equal(await caller.triggerWorker('echo', { n: 2 }), true);
  // Results cross Redis as JSON: an undefined field is dropped, like JSON.stringify does.
  assert.deepEqual(await caller.run('echo'), { attempt: 1 });
  // The executing host may call too; its run may run on any host (here: itself).
  assert.deepEqual(await runner.run('echo', 'x'), { got: 'x', attempt: 1 });
  const failed = await caller.run('echo', { fail: true }).catch((e: unknown) => e);
  assert.ok(failed instanceof RunError);
  assert.equal(failed.reason, 'error');
  assert.equal(failed.attempts, 2);
  assert.match(String((failed.cause as Error).message), /boom/);
  // Not registered on a host: refused there.
  await assert.rejects(
    caller.run('other'),
    (e: unknown) => e instanceof OrchestratorError && e.code === 'ERR_UNKNOWN_WORKER',
  );
  // The status answers from a mirror at most 1 s stale.
  await waitFor(() => caller.getStatus().cluster?.hosts.length === 2, 3000, 'both hosts listed');
  assert.deepEqual(
    caller.getStatus().cluster?.hosts.map((h) => [h.id, h.execute, h.workers]),
    [
      ['caller', false, []],
      ['runner', true, ['echo']],
    ],
  );
  assert.equal(caller.getStatus().cluster?.name, 'corral');
  // A graceful stop leaves the list at once.
  await runner.stop();
  await waitFor(() => caller.getStatus().cluster?.hosts.length === 1, 3000, 'the stopped host gone');
  const totals = caller.getStatus().workerStates.echo?.totals;
  assert.equal(totals?.failed, 1);
  assert.equal(totals?.runs, 5);
  assert.equal(totals?.succeeded, 4);
  assert.equal(totals?.retries, 1);
  assert.equal(ranOn.length, 6);
});

test('without cluster, neither BullMQ nor ioredis is loaded', async () => {
  const { execFileSync } = await import('node:child_process');
  const script = `
    const { WorkerOrchestrator } = await import('./src/index.ts');
    const orch = new WorkerOrchestrator({ logger: false });
    orch.registerWorker('w', () => 1, { executionMode: 'triggered' });
    await orch.start();
    await orch.run('w');
    await orch.stop();
    const { createRequire } = await import('node:module');
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /node_modules\\/(bullmq|ioredis)\\//.test(p));
    console.log(JSON.stringify(loaded));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop() as string), []);
});

test('a config file takes cluster at its top level (corral run of one config on N machines)', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadConfig, ConfigError } = await import('../../src/cli/config.ts');
  const dir = mkdtempSync(join(tmpdir(), 'corral-cluster-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'w.mjs'), 'export default () => 1;\n');
  const write = (name: string, config: unknown) => {
    writeFileSync(join(dir, name), JSON.stringify(config));
    return join(dir, name);
  };
  const workers = { w: { module: './w.mjs', executionMode: 'triggered' } };
  const ok = await loadConfig(
    write('ok.json', { cluster: { redis: 'redis://127.0.0.1:6379', lockMs: 5000 }, workers }),
  );
  assert.deepEqual(ok.orchestrator.cluster, { redis: 'redis://127.0.0.1:6379', lockMs: 5000 });
  await assert.rejects(
    loadConfig(write('bad.json', { cluster: { redis: 'redis://127.0.0.1:6379', lockMs: 10 }, workers })),
    (e: unknown) => e instanceof ConfigError && /cluster\.lockMs/.test(e.message),
  );
  await assert.rejects(
    loadConfig(
      write('twice.json', {
        orchestrator: { cluster: { redis: 'redis://x' } },
        cluster: { redis: 'redis://x' },
        workers,
      }),
    ),
    (e: unknown) => e instanceof ConfigError && /cluster is given twice/.test(e.message),
  );
});

test('a host registering a worker with other cluster-wide options logs a warning naming them', async (t) => {
  const redis = await startRedis(t);
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  const a = orchestrator(t, { cluster: { redis: redis.url, hostId: 'a' } });
  const b = orchestrator(t, { cluster: { redis: redis.url, hostId: 'b' }, logger });
  a.registerWorker('w', () => 0, { ...TRIGGERED, maxRetries: 1, concurrency: 2 });
  b.registerWorker('w', () => 0, { ...TRIGGERED, maxRetries: 1, concurrency: 3, priority: 3 });
  await a.start();
  await b.start();
  const warning = warnings.find((line) => line.includes('other cluster-wide options'));
  assert.ok(warning !== undefined);
  assert.deepEqual(JSON.parse(warning).options, ['concurrency', 'priority']);
});

test('on a Redis Cluster (three masters): hosts share triggered runs and a schedule fires once', async (t) => {
  const nodes = await startRedisCluster(t);
  // One node is enough to find the others; a different one per host.
  const hosts = ['a', 'b'].map((hostId, i) =>
    orchestrator(t, {
      cluster: { redis: { nodes: [{ host: '127.0.0.1', port: nodes[i]?.port }] }, hostId },
      maxConcurrentWorkers: 2,
    }),
  );
  const ranOn: string[] = [];
  let ticks = 0;
  for (const [i, orch] of hosts.entries()) {
    orch.registerWorker(
      'w',
      async (ctx) => {
        ranOn.push(i === 0 ? 'a' : 'b');
        await sleep(20);
        return ctx.payload;
      },
      { ...TRIGGERED, concurrency: 4 },
    );
    orch.registerWorker('tick', () => void ticks++, {
      executionMode: WorkerExecutionMode.SCHEDULED,
      intervalSeconds: 1,
    });
  }
  for (const orch of hosts) await orch.start();
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, n) => (hosts[n % 2] as (typeof hosts)[0]).run('w', n)),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 40 }, (_, n) => n),
  );
  assert.ok(ranOn.includes('a') && ranOn.includes('b'), `both hosts ran some: ${ranOn.join('')}`);
  await waitFor(
    () => (hosts[0]?.getStatus().cluster?.hosts ?? []).map((h) => h.id).join() === 'a,b',
    5000,
    'both hosts listed',
  );
  // The interval fires once per due time whatever the number of hosts: about 3 in 3.5 s, not 6.
  const before = ticks;
  await sleep(3500);
  const fired = ticks - before;
  assert.ok(fired >= 2 && fired <= 4, `interval fired ${fired} times in 3.5 s on two hosts`);
});
