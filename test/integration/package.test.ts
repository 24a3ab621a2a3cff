// The built package (dist/, what users import) works with plain Node — no TypeScript loader — for
// every isolation (threads load the entry the build bundles), and its public entry exports exactly the
// contract's names.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

const script = `
import * as corral from 'corral';
const { WorkerOrchestrator, WorkerExecutionMode } = corral;
const orch = new WorkerOrchestrator({ logger: false });
const echo = new URL('./test/fixtures/echo.mjs', 'file://${root}');
for (const isolation of ['thread', 'process', 'inline']) {
  orch.registerWorker(isolation, echo, { executionMode: WorkerExecutionMode.TRIGGERED, isolation });
}
const boom = new URL('./test/fixtures/throw.mjs', 'file://${root}');
orch.registerWorker('thread-throws', boom, { executionMode: WorkerExecutionMode.TRIGGERED, isolation: 'thread', maxRetries: 0 });
await orch.start();
const results = [];
for (const isolation of ['thread', 'process', 'inline']) results.push(await orch.run(isolation, isolation));
const thrown = await orch.run('thread-throws').catch((error) => ({ message: error.message, code: error.code, cause: error.cause?.code }));
const report = await orch.stop();
console.log(JSON.stringify({ exports: Object.keys(corral).sort(), results, thrown, report }));
`;

it('the built package runs every isolation under plain node', { timeout: 60_000 }, async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
  const out = JSON.parse(stdout) as {
    exports: string[];
    results: { payload: string; isMainThread: boolean }[];
    thrown: { message: string; code: string; cause: string };
    report: { completed: string[] };
  };
  assert.deepEqual(
    out.results.map((r) => [r.payload, r.isMainThread]),
    [
      ['thread', false],
      ['process', true],
      ['inline', true],
    ],
  );
  // An error thrown in a thread comes back whole: message and code.
  assert.match(out.thrown.message, /boom/);
  assert.equal(out.thrown.cause, 'E_BOOM');
  for (const name of [
    'WorkerOrchestrator',
    'Supervisor',
    'WorkerExecutionMode',
    'JobPriority',
    'OrchestratorError',
    'RunError',
  ]) {
    assert.ok(out.exports.includes(name), `exports ${name}`);
  }
});

it('package.json exposes only the root entry with types', () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as Record<string, unknown>;
  assert.equal(pkg.name, 'corral');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(Object.keys(pkg.exports as object), ['.', './package.json']);
  assert.deepEqual((pkg.exports as Record<string, unknown>)['.'], {
    types: './dist/index.d.ts',
    default: './dist/index.js',
  });
});
