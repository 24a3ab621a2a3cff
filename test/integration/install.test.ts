// The package as a user installs it: `npm pack`, then `npm install <tarball>` in a new ESM app without
// optional dependencies (README: Install). better-sqlite3 is optional: an app that never sets `store`
// runs without it, and one that asks for a file store gets ERR_STORE naming the fix.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const app = mkdtempSync(join(tmpdir(), 'corral-app-'));

before(async () => {
  // dist/ is built by `npm test` before the suites run; packing must not build again.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', app], {
    cwd: root,
  });
  const tarball = stdout.trim().split('\n').pop() as string;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run(
    'npm',
    ['install', `./${tarball}`, '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund', '--silent'],
    { cwd: app },
  );
});

after(() => rmSync(app, { recursive: true, force: true }));

it('installed without optional dependencies: runs with the memory store; a file store is ERR_STORE naming the fix', {
  timeout: 120_000,
}, async () => {
  writeFileSync(
    join(app, 'main.mjs'),
    `import { WorkerOrchestrator } from 'corral';
const plain = new WorkerOrchestrator({ logger: false });
plain.registerWorker('w', () => 'ran', { executionMode: 'triggered' });
await plain.start();
const result = await plain.run('w');
await plain.stop();
const durable = new WorkerOrchestrator({ logger: false, store: './state.db' });
const error = await durable.start().then(() => undefined, (e) => ({ code: e.code, message: e.message }));
console.log(JSON.stringify({ result, error, state: durable.getStatus().state }));
`,
  );
  const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: app });
  const out = JSON.parse(stdout) as {
    result: string;
    error: { code: string; message: string };
    state: string;
  };
  assert.equal(out.result, 'ran');
  assert.equal(out.error.code, 'ERR_STORE');
  assert.match(out.error.message, /better-sqlite3.*not installed.*npm install better-sqlite3@12/);
  assert.equal(out.state, 'stopped');
});

it("the installed `corral` command checks the README's CLI config", { timeout: 60_000 }, async () => {
  mkdirSync(join(app, 'workers'), { recursive: true });
  copyFileSync(join(root, 'examples/workers/process-batch.mjs'), join(app, 'workers/process-batch.mjs'));
  copyFileSync(join(root, 'examples/report.config.mjs'), join(app, 'corral.config.mjs'));
  const { stdout } = await run('npx', ['--no-install', 'corral', 'check', 'corral.config.mjs'], { cwd: app });
  assert.match(stdout, /corral\.config\.mjs is valid: 1 worker \(report\)/);
});
