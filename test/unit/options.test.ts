import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { OrchestratorError } from '../../src/errors.ts';
import { resolveOrchestratorOptions, resolveWorker, WORKER_DEFAULTS } from '../../src/options.ts';
import {
  JobPriority,
  type OrchestratorOptions,
  WorkerExecutionMode,
  type WorkerOptions,
} from '../../src/types.ts';

const ECHO_URL = new URL('../fixtures/echo.mjs', import.meta.url);
const ECHO = fileURLToPath(ECHO_URL);
const fn = () => undefined;

/** How a received value should appear in the message: strings as written, others as inspect shows them. */
function shown(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: 1, breakLength: Infinity });
}

function expectError(call: () => unknown, code: string, includes: string[]): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof OrchestratorError, `an OrchestratorError, got ${inspect(error)}`);
    assert.equal(error.code, code, error.message);
    for (const part of includes) {
      assert.ok(error.message.includes(part), `message "${error.message}" should include "${part}"`);
    }
    return true;
  });
}

/** ERR_INVALID_OPTION whose message names `option` and the received `value`. */
function expectInvalid(call: () => unknown, option: string, value: unknown): void {
  expectError(call, 'ERR_INVALID_OPTION', [option, shown(value)]);
}

type Source = 'inline' | 'thread' | 'process';

function register(source: Source, options: Record<string, unknown>) {
  const opts = options as WorkerOptions;
  if (source === 'inline') return resolveWorker('w', fn, opts);
  return resolveWorker('w', ECHO, { ...opts, ...(source === 'process' ? { isolation: 'process' } : {}) });
}

describe('resolveWorker: defaults', () => {
  const expectedDefaults = {
    executionMode: WorkerExecutionMode.SCHEDULED,
    intervalSeconds: 300,
    cron: undefined,
    timeoutSeconds: 60,
    maxRetries: 3,
    retryDelayMs: 1000,
    priority: JobPriority.NORMAL,
    maxConsecutiveFailures: 5,
    breakerCooldownSeconds: null,
    dependsOn: [],
    blocks: [],
    isolation: 'inline',
    concurrency: 1,
    maxQueue: 1000,
    memoryLimitMb: undefined,
    heartbeatTimeoutSeconds: undefined,
    killGraceMs: 5000,
    env: undefined,
    execArgv: undefined,
    recycleAfterRuns: undefined,
    idleTimeoutSeconds: 30,
    missedRuns: 'once',
  };

  it('applies every default for a function worker, with options omitted or empty', () => {
    assert.deepEqual(resolveWorker('w', fn, undefined).options, expectedDefaults);
    assert.deepEqual(resolveWorker('w', fn, {}).options, expectedDefaults);
    assert.equal(WORKER_DEFAULTS.maxRetries, 3);
  });

  it('a function runs inline, a module path in a thread by default', () => {
    const inline = resolveWorker('w', fn, {});
    assert.equal(inline.source.kind, 'function');
    assert.equal(inline.options.isolation, 'inline');
    const thread = resolveWorker('w', ECHO, {});
    assert.deepEqual(thread.source, { kind: 'module', path: ECHO });
    assert.equal(thread.options.isolation, 'thread');
  });

  it('honours 0 (defaults apply with ??, not ||)', () => {
    const { options } = resolveWorker('w', fn, {
      maxRetries: 0,
      retryDelayMs: 0,
      breakerCooldownSeconds: 0,
      maxQueue: 0,
      priority: JobPriority.LOW,
    });
    assert.equal(options.maxRetries, 0);
    assert.equal(options.retryDelayMs, 0);
    assert.equal(options.breakerCooldownSeconds, 0);
    assert.equal(options.maxQueue, 0);
    assert.equal(options.priority, JobPriority.LOW);
    const proc = resolveWorker('w', ECHO, { isolation: 'process', killGraceMs: 0, idleTimeoutSeconds: 0 });
    assert.equal(proc.options.killGraceMs, 0);
    assert.equal(proc.options.idleTimeoutSeconds, 0);
  });

  it('treats options set to undefined as not given', () => {
    const { options } = resolveWorker('w', fn, {
      maxRetries: undefined,
      timeoutSeconds: undefined,
      memoryLimitMb: undefined,
    } as unknown as WorkerOptions);
    assert.equal(options.maxRetries, 3);
    assert.equal(options.timeoutSeconds, 60);
  });

  it('keeps breakerCooldownSeconds null when given null', () => {
    assert.equal(
      resolveWorker('w', fn, { breakerCooldownSeconds: null }).options.breakerCooldownSeconds,
      null,
    );
    assert.equal(resolveWorker('w', fn, { breakerCooldownSeconds: 2.5 }).options.breakerCooldownSeconds, 2.5);
  });

  it('accepts timeoutSeconds Infinity (no timeout) and fractional values', () => {
    assert.equal(resolveWorker('w', fn, { timeoutSeconds: Infinity }).options.timeoutSeconds, Infinity);
    assert.equal(resolveWorker('w', fn, { timeoutSeconds: 0.05 }).options.timeoutSeconds, 0.05);
  });

  it('resolves every given option', () => {
    const { options } = resolveWorker('w', ECHO, {
      isolation: 'process',
      executionMode: WorkerExecutionMode.SCHEDULED,
      cron: '*/5 * * * * *',
      timeoutSeconds: 10,
      maxRetries: 2,
      retryDelayMs: 50,
      priority: JobPriority.HIGH,
      maxConsecutiveFailures: 2,
      breakerCooldownSeconds: 30,
      dependsOn: ['a', 'b'],
      blocks: ['c'],
      concurrency: 4,
      maxQueue: 7,
      memoryLimitMb: 128,
      heartbeatTimeoutSeconds: 3,
      killGraceMs: 250,
      env: { FOO: 'bar' },
      execArgv: ['--no-warnings'],
      recycleAfterRuns: 1,
      idleTimeoutSeconds: 5,
    });
    assert.equal(options.cron, '*/5 * * * * *');
    assert.equal(options.isolation, 'process');
    assert.deepEqual(options.dependsOn, ['a', 'b']);
    assert.deepEqual(options.blocks, ['c']);
    assert.deepEqual(options.env, { FOO: 'bar' });
    assert.deepEqual(options.execArgv, ['--no-warnings']);
    assert.equal(options.memoryLimitMb, 128);
    assert.equal(options.heartbeatTimeoutSeconds, 3);
    assert.equal(options.killGraceMs, 250);
    assert.equal(options.recycleAfterRuns, 1);
    assert.equal(options.idleTimeoutSeconds, 5);
    assert.equal(options.concurrency, 4);
    assert.equal(options.maxQueue, 7);
  });

  it('accepts 5- and 6-field cron patterns', () => {
    assert.equal(resolveWorker('w', fn, { cron: '*/10 * * * *' }).options.cron, '*/10 * * * *');
    assert.equal(resolveWorker('w', fn, { cron: '0 */2 * * * *' }).options.cron, '0 */2 * * * *');
  });

  it('copies lists given by the caller (later mutation has no effect)', () => {
    const dependsOn = ['a'];
    const { options } = resolveWorker('w', fn, { dependsOn });
    dependsOn.push('b');
    assert.deepEqual(options.dependsOn, ['a']);
  });
});

describe('resolveWorker: invalid ranges (README: Worker options) are refused with ERR_INVALID_OPTION', () => {
  const cases: Array<[option: string, values: unknown[], source: Source]> = [
    ['intervalSeconds', [0, -1, Number.NaN, '60'], 'inline'],
    ['timeoutSeconds', [0, -1, -Infinity, Number.NaN, '60'], 'inline'],
    ['maxRetries', [-1, 1.5, Number.NaN, Infinity, '3'], 'inline'],
    ['maxQueue', [-1, 0.5, Number.NaN], 'inline'],
    ['retryDelayMs', [-1, 2.5, Number.NaN, '100'], 'inline'],
    ['killGraceMs', [-1, 1.5, Number.NaN], 'process'],
    ['maxConsecutiveFailures', [0, -1, 1.5, Number.NaN], 'inline'],
    ['concurrency', [0, -2, 2.5, '2'], 'inline'],
    ['recycleAfterRuns', [0, -1, 1.5], 'thread'],
    ['recycleAfterRuns', [0], 'process'],
    ['breakerCooldownSeconds', [-1, Number.NaN, '5'], 'inline'],
    ['memoryLimitMb', [0, -10, Number.NaN, '64'], 'thread'],
    ['memoryLimitMb', [0], 'process'],
    ['heartbeatTimeoutSeconds', [0, -1, Number.NaN], 'inline'],
    ['priority', [4, -1, 1.5, 'HIGH'], 'inline'],
    ['executionMode', ['sometimes'], 'inline'],
    ['isolation', ['vm'], 'thread'],
    ['idleTimeoutSeconds', [-1, Number.NaN], 'thread'],
  ];
  for (const [option, values, source] of cases) {
    for (const value of values) {
      it(`${option} = ${inspect(value)} (${source})`, () => {
        expectInvalid(() => register(source, { [option]: value }), option, value);
      });
    }
  }

  it('cron: not a pattern, wrong field count, out-of-range field', () => {
    for (const value of ['not a cron at all', '* * *', '61 * * * *', '* * * * * * * *']) {
      expectInvalid(() => register('inline', { cron: value }), 'cron', value);
    }
    expectInvalid(() => register('inline', { cron: 5 }), 'cron', 5);
  });

  it('cron and intervalSeconds together are refused', () => {
    expectError(() => register('inline', { cron: '* * * * *', intervalSeconds: 5 }), 'ERR_INVALID_OPTION', [
      'cron',
      'intervalSeconds',
    ]);
  });

  it('a schedule given to a non-scheduled worker is refused', () => {
    expectInvalid(
      () => register('inline', { executionMode: WorkerExecutionMode.TRIGGERED, intervalSeconds: 5 }),
      'intervalSeconds',
      5,
    );
    expectInvalid(
      () => register('inline', { executionMode: WorkerExecutionMode.CONTINUOUS, cron: '* * * * *' }),
      'cron',
      '* * * * *',
    );
  });

  it('dependsOn / blocks / execArgv must be arrays of non-empty strings', () => {
    expectInvalid(() => register('inline', { dependsOn: 'a' }), 'dependsOn', 'a');
    expectError(() => register('inline', { dependsOn: [''] }), 'ERR_INVALID_OPTION', ['dependsOn']);
    expectInvalid(() => register('inline', { blocks: [42] }), 'blocks', 42);
    expectInvalid(() => register('thread', { execArgv: '--inspect' }), 'execArgv', '--inspect');
  });

  it('a worker cannot block itself', () => {
    expectInvalid(() => register('inline', { blocks: ['w'] }), 'blocks', 'w');
  });

  it('env must hold string values', () => {
    expectInvalid(() => register('process', { env: { PORT: 8080 } }), 'env', 8080);
    expectInvalid(() => register('process', { env: 'A=1' }), 'env', 'A=1');
  });

  it('options must be an object', () => {
    expectError(() => resolveWorker('w', fn, [] as unknown as WorkerOptions), 'ERR_INVALID_OPTION', [
      'options',
    ]);
    expectError(() => resolveWorker('w', fn, 5 as unknown as WorkerOptions), 'ERR_INVALID_OPTION', [
      'options',
      '5',
    ]);
  });

  it('unknown option keys are refused, naming the key and the value', () => {
    expectInvalid(() => register('inline', { intervalSecs: 12345 }), 'intervalSecs', 12345);
    expectInvalid(() => register('thread', { retries: 'lots' }), 'retries', 'lots');
  });

  it('the name must be a non-empty string', () => {
    for (const name of ['', '   ', 42, undefined]) {
      expectError(() => resolveWorker(name as unknown as string, fn, {}), 'ERR_INVALID_OPTION', [
        'name',
        shown(name),
      ]);
    }
  });

  it('the worker must be a function, a path or a file: URL', () => {
    expectInvalid(() => resolveWorker('w', 42, {}), 'worker', 42);
    expectError(() => resolveWorker('w', '', {}), 'ERR_INVALID_OPTION', ['worker']);
    expectInvalid(
      () => resolveWorker('w', new URL('https://example.com/w.mjs'), {}),
      'worker',
      'https://example.com/w.mjs',
    );
  });
});

describe('resolveWorker: isolation rules', () => {
  const inlineRefused: Array<[string, unknown]> = [
    ['memoryLimitMb', 64],
    ['env', { A: '1' }],
    ['execArgv', ['--no-warnings']],
    ['killGraceMs', 100],
    ['recycleAfterRuns', 1],
    ['idleTimeoutSeconds', 10],
  ];
  for (const [option, value] of inlineRefused) {
    it(`inline refuses ${option}`, () => {
      expectInvalid(() => register('inline', { [option]: value }), option, value);
      expectInvalid(
        () => resolveWorker('w', fn, { isolation: 'inline', [option]: value } as WorkerOptions),
        option,
        value,
      );
    });
  }

  it('thread refuses env and killGraceMs', () => {
    expectInvalid(() => register('thread', { env: { A: '1' } }), 'env', { A: '1' });
    expectInvalid(() => register('thread', { killGraceMs: 100 }), 'killGraceMs', 100);
    expectInvalid(() => resolveWorker('w', ECHO, { isolation: 'thread', killGraceMs: 0 }), 'killGraceMs', 0);
  });

  it('thread accepts memoryLimitMb, execArgv, recycleAfterRuns and idleTimeoutSeconds', () => {
    const { options } = register('thread', {
      memoryLimitMb: 64,
      execArgv: ['--no-warnings'],
      recycleAfterRuns: 3,
      idleTimeoutSeconds: 1,
    });
    assert.equal(options.memoryLimitMb, 64);
    assert.equal(options.recycleAfterRuns, 3);
  });

  it('process accepts every sandbox option', () => {
    const { options } = register('process', {
      memoryLimitMb: 64,
      env: { A: '1' },
      execArgv: [],
      killGraceMs: 10,
      recycleAfterRuns: 1,
      idleTimeoutSeconds: 1,
    });
    assert.equal(options.isolation, 'process');
    assert.deepEqual(options.env, { A: '1' });
  });

  it('a function cannot run in a thread or a process', () => {
    expectInvalid(() => resolveWorker('w', fn, { isolation: 'thread' }), 'isolation', 'thread');
    expectInvalid(() => resolveWorker('w', fn, { isolation: 'process' }), 'isolation', 'process');
  });
});

describe('resolveWorker: module sources', () => {
  it('accepts an absolute path', () => {
    assert.deepEqual(resolveWorker('w', ECHO, {}).source, { kind: 'module', path: ECHO });
  });

  it('resolves a relative path against process.cwd()', () => {
    const rel = relative(process.cwd(), ECHO);
    assert.ok(!rel.startsWith('/'));
    assert.deepEqual(resolveWorker('w', rel, {}).source, { kind: 'module', path: ECHO });
    const cwd = process.cwd();
    try {
      process.chdir(dirname(ECHO));
      assert.deepEqual(resolveWorker('w', './echo.mjs', {}).source, { kind: 'module', path: ECHO });
      assert.deepEqual(resolveWorker('w', 'echo.mjs', {}).source, { kind: 'module', path: ECHO });
    } finally {
      process.chdir(cwd);
    }
  });

  it('accepts a file URL, as URL or string', () => {
    assert.deepEqual(resolveWorker('w', ECHO_URL, {}).source, { kind: 'module', path: ECHO });
    assert.deepEqual(resolveWorker('w', pathToFileURL(ECHO).href, {}).source, { kind: 'module', path: ECHO });
  });

  it('a missing module is ERR_MODULE_NOT_FOUND at registration, naming the path', () => {
    const missing = join(dirname(ECHO), 'does-not-exist.mjs');
    expectError(() => resolveWorker('w', missing, {}), 'ERR_MODULE_NOT_FOUND', [missing]);
    expectError(() => resolveWorker('w', pathToFileURL(missing), {}), 'ERR_MODULE_NOT_FOUND', [missing]);
    expectError(() => resolveWorker('w', 'no/such/worker.mjs', {}), 'ERR_MODULE_NOT_FOUND', [
      join(process.cwd(), 'no/such/worker.mjs'),
    ]);
  });

  it('a directory is not a module', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-unit-'));
    try {
      expectError(() => resolveWorker('w', dir, {}), 'ERR_MODULE_NOT_FOUND', [dir]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resolveOrchestratorOptions', () => {
  it('applies defaults', () => {
    const expected = {
      maxConcurrentWorkers: availableParallelism(),
      enableHealthChecks: true,
      healthSampleMs: 1000,
      shutdownTimeoutMs: 30_000,
      maxDeadLetters: 10_000,
      maxPayloadBytes: 16 * 1024 * 1024,
    };
    assert.deepEqual(resolveOrchestratorOptions(undefined), expected);
    assert.deepEqual(resolveOrchestratorOptions({}), expected);
  });

  it('honours false and 0', () => {
    const r = resolveOrchestratorOptions({ enableHealthChecks: false, shutdownTimeoutMs: 0, logger: false });
    assert.equal(r.enableHealthChecks, false);
    assert.equal(r.shutdownTimeoutMs, 0);
  });

  it('resolves given values and accepts tickIntervalMs for compatibility', () => {
    const r = resolveOrchestratorOptions({
      tickIntervalMs: 100,
      maxConcurrentWorkers: 3,
      healthSampleMs: 250,
      shutdownTimeoutMs: 5000,
      maxDeadLetters: 5,
    });
    assert.equal(r.maxConcurrentWorkers, 3);
    assert.equal(r.healthSampleMs, 250);
    assert.equal(r.shutdownTimeoutMs, 5000);
    assert.equal(r.maxDeadLetters, 5);
  });

  const cases: Array<[string, unknown[]]> = [
    ['maxConcurrentWorkers', [0, -1, 1.5, Number.NaN, '4']],
    ['enableHealthChecks', ['yes', 1]],
    ['healthSampleMs', [0, -5, Number.NaN]],
    ['shutdownTimeoutMs', [-1, Number.NaN]],
    ['tickIntervalMs', [0, -1]],
    ['maxDeadLetters', [0, 1.5]],
  ];
  for (const [option, values] of cases) {
    for (const value of values) {
      it(`refuses ${option} = ${inspect(value)}`, () => {
        expectInvalid(
          () => resolveOrchestratorOptions({ [option]: value } as unknown as OrchestratorOptions),
          option,
          value,
        );
      });
    }
  }

  it('refuses a logger that is not a pino logger', () => {
    expectError(
      () => resolveOrchestratorOptions({ logger: {} } as unknown as OrchestratorOptions),
      'ERR_INVALID_OPTION',
      ['logger'],
    );
    expectInvalid(
      () => resolveOrchestratorOptions({ logger: 'debug' } as unknown as OrchestratorOptions),
      'logger',
      'debug',
    );
  });
});
