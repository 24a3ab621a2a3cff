// Validation at registerWorker (README: Worker options, Error codes) and the worker source forms (function, path, file URL).
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { WorkerExecutionMode, type WorkerOptions, WorkerOrchestrator } from '../../src/index.ts';
import { isCode, useOrchestrator } from '../helpers.ts';

const { TRIGGERED } = WorkerExecutionMode;

const FIXTURES = new URL('../fixtures/', import.meta.url);
const ECHO = new URL('echo.mjs', FIXTURES);

test('validation: every range of the worker options is refused with ERR_INVALID_OPTION naming option and value', () => {
  const orch = new WorkerOrchestrator({ logger: false });
  const fn = () => undefined;
  const cases: [string, WorkerOptions, 'inline' | 'thread' | 'process'][] = [
    ['intervalSeconds', { intervalSeconds: 0 }, 'inline'],
    ['intervalSeconds', { intervalSeconds: -5 }, 'inline'],
    ['timeoutSeconds', { timeoutSeconds: -1 }, 'inline'],
    ['timeoutSeconds', { timeoutSeconds: 0 }, 'inline'],
    ['maxRetries', { maxRetries: 1.5 }, 'inline'],
    ['maxRetries', { maxRetries: -1 }, 'inline'],
    ['maxQueue', { maxQueue: -1 }, 'inline'],
    ['retryDelayMs', { retryDelayMs: -1 }, 'inline'],
    ['killGraceMs', { killGraceMs: -1 }, 'process'],
    ['maxConsecutiveFailures', { maxConsecutiveFailures: 0 }, 'inline'],
    ['concurrency', { concurrency: 0 }, 'inline'],
    ['concurrency', { concurrency: 2.5 }, 'inline'],
    ['recycleAfterRuns', { recycleAfterRuns: 0 }, 'thread'],
    ['breakerCooldownSeconds', { breakerCooldownSeconds: -1 }, 'inline'],
    ['memoryLimitMb', { memoryLimitMb: 0 }, 'thread'],
    ['memoryLimitMb', { memoryLimitMb: -10 }, 'process'],
  ];
  let i = 0;
  for (const [option, options, isolation] of cases) {
    const name = `w${i++}`;
    const value = String((options as Record<string, unknown>)[option]);
    const worker = isolation === 'inline' ? fn : ECHO;
    const opts: WorkerOptions = isolation === 'inline' ? options : { ...options, isolation };
    assert.throws(
      () => orch.registerWorker(name, worker, opts),
      isCode('ERR_INVALID_OPTION', option, value),
      `${option}: ${value} (${isolation})`,
    );
    assert.equal(orch.getWorker(name), undefined, `${option}: the worker was registered anyway`);
  }
  assert.equal(orch.getStatus().workers, 0);
});

test('validation: boundary values that are valid are accepted', () => {
  const orch = new WorkerOrchestrator({ logger: false });
  const fn = () => undefined;
  orch.registerWorker('a', fn, {
    intervalSeconds: 0.01,
    timeoutSeconds: Number.POSITIVE_INFINITY,
    maxRetries: 0,
    maxQueue: 0,
    retryDelayMs: 0,
    maxConsecutiveFailures: 1,
    concurrency: 1,
    breakerCooldownSeconds: 0,
  });
  orch.registerWorker('b', fn, { breakerCooldownSeconds: null });
  orch.registerWorker('c', ECHO, {
    isolation: 'process',
    killGraceMs: 0,
    recycleAfterRuns: 1,
    memoryLimitMb: 1,
  });
  assert.equal(orch.getWorker('a')?.timeoutSeconds, Number.POSITIVE_INFINITY);
  assert.equal(orch.getWorker('b')?.breakerCooldownSeconds, null);
  assert.equal(orch.getWorker('c')?.killGraceMs, 0);
});

test('validation: an inline worker refuses sandbox-only options', () => {
  const orch = new WorkerOrchestrator({ logger: false });
  const fn = () => undefined;
  const refused: [keyof WorkerOptions, WorkerOptions][] = [
    ['memoryLimitMb', { memoryLimitMb: 64 }],
    ['env', { env: { A: '1' } }],
    ['execArgv', { execArgv: ['--no-warnings'] }],
    ['killGraceMs', { killGraceMs: 100 }],
    ['recycleAfterRuns', { recycleAfterRuns: 1 }],
    ['idleTimeoutSeconds', { idleTimeoutSeconds: 5 }],
  ];
  for (const [option, options] of refused) {
    assert.throws(
      () => orch.registerWorker(`inline-${option}`, fn, options),
      isCode('ERR_INVALID_OPTION', option),
      option,
    );
    // The same option with an explicit isolation: 'inline' module is refused as well.
    assert.throws(
      () => orch.registerWorker(`module-${option}`, ECHO, { ...options, isolation: 'inline' }),
      isCode('ERR_INVALID_OPTION', option),
      `${option} (inline module)`,
    );
  }
  assert.equal(orch.getStatus().workers, 0);
});

test('validation: duplicate names, missing modules, unknown options', () => {
  const orch = new WorkerOrchestrator({ logger: false });
  const fn = () => undefined;
  orch.registerWorker('dup', fn);
  assert.throws(() => orch.registerWorker('dup', fn), isCode('ERR_DUPLICATE_WORKER'));
  assert.throws(() => orch.registerWorker('dup', ECHO), isCode('ERR_DUPLICATE_WORKER'));
  assert.throws(
    () => orch.registerWorker('missing', new URL('does-not-exist.mjs', FIXTURES)),
    isCode('ERR_MODULE_NOT_FOUND'),
  );
  assert.throws(
    () => orch.registerWorker('missing2', '/definitely/not/here.mjs'),
    isCode('ERR_MODULE_NOT_FOUND'),
  );
  assert.throws(
    () => orch.registerWorker('typo', fn, { intervalSecs: 5 } as unknown as WorkerOptions),
    isCode('ERR_INVALID_OPTION', 'intervalSecs'),
  );
  assert.throws(
    () => orch.registerWorker('fnThread', fn, { isolation: 'thread' }),
    isCode('ERR_INVALID_OPTION', 'isolation'),
  );
  assert.throws(
    () => orch.registerWorker('selfBlock', fn, { blocks: ['selfBlock'] }),
    isCode('ERR_INVALID_OPTION', 'blocks'),
  );
  assert.equal(orch.getStatus().workers, 1);
});

test('sources: a relative path resolves against process.cwd(); a file URL works', async (t) => {
  const orch = useOrchestrator(t);
  const relative = 'test/fixtures/echo.mjs';
  assert.equal(process.cwd(), resolve(new URL('../..', import.meta.url).pathname));
  orch.registerWorker('rel', relative, { executionMode: TRIGGERED, isolation: 'inline' });
  orch.registerWorker('url', ECHO, { executionMode: TRIGGERED, isolation: 'inline' });
  orch.registerWorker('urlString', ECHO.href, { executionMode: TRIGGERED, isolation: 'inline' });
  orch.registerWorker('relThread', relative, { executionMode: TRIGGERED });
  assert.equal(orch.getWorker('rel')?.modulePath, resolve(process.cwd(), relative));
  assert.equal(orch.getWorker('url')?.modulePath, resolve(process.cwd(), relative));
  await orch.start();
  for (const name of ['rel', 'url', 'urlString']) {
    const result = (await orch.run(name, { n: name })) as { payload: unknown; name: string };
    assert.deepEqual(result.payload, { n: name });
    assert.equal(result.name, name);
  }
  const threaded = (await orch.run('relThread', 'x')) as { payload: unknown; isMainThread: boolean };
  assert.equal(orch.getWorker('relThread')?.isolation, 'thread');
  assert.deepEqual(threaded.payload, 'x');
  assert.equal(threaded.isMainThread, false);
});

test('run(): unknown worker rejects ERR_UNKNOWN_WORKER; timeoutSeconds Infinity runs', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('forever', () => 'fine', { executionMode: TRIGGERED, timeoutSeconds: Infinity });
  await orch.start();
  await assert.rejects(orch.run('nope'), isCode('ERR_UNKNOWN_WORKER'));
  assert.throws(() => orch.enableWorker('nope'), isCode('ERR_UNKNOWN_WORKER'));
  assert.throws(() => orch.disableWorker('nope'), isCode('ERR_UNKNOWN_WORKER'));
  assert.equal(await orch.run('forever'), 'fine');
});

test('validation: executionMode accepts the string values as well as the enum members', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('a', () => 'a', { executionMode: 'triggered' });
  orch.registerWorker('b', () => 'b', { executionMode: WorkerExecutionMode.TRIGGERED });
  assert.equal(orch.getWorker('a')?.executionMode, WorkerExecutionMode.TRIGGERED);
  await orch.start();
  assert.equal(await orch.run<string>('a'), 'a');
  assert.throws(
    () => orch.registerWorker('c', () => 'c', { executionMode: 'sometimes' as 'triggered' }),
    isCode('ERR_INVALID_OPTION', 'executionMode'),
  );
});
