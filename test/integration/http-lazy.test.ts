// The HTTP layer costs nothing until used (DESIGN 3): importing corral loads neither the routes nor
// prom-client; `createHttpHandler()` and `orch.listen()` load them. Checked in a fresh node process
// whose module loads are recorded by a loader hook.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { OrchestratorControl } from '../../src/index.ts';
import { WorkerOrchestrator } from '../../src/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** Records the URL of every module loaded after it is registered, in `globalThis.__loaded` via a port. */
const SCRIPT = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { createRequire } from 'node:module';
const loaded = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => loaded.push(url));
port1.unref();
const hooks = 'data:text/javascript,' + encodeURIComponent(\`
  let port;
  export function initialize(data) { port = data.port; }
  export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
\`);
register(hooks, { data: { port: port2 }, transferList: [port2] });
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const require = createRequire(import.meta.url);
const promClient = () => Object.keys(require.cache).some((file) => file.includes('/prom-client/'));
const http = () => loaded.filter((url) => url.includes('/src/http/')).map((url) => url.replace(/^.*\\/src\\//, ''));

const corral = await import('./src/index.ts');
await settle();
const afterImport = { http: http(), promClient: promClient() };

const orch = new corral.WorkerOrchestrator({ logger: false });
const handler = corral.createHttpHandler(orch, {});
const server = await orch.listen({ port: 0 });
await server.close();
handler.close();
await settle();
const afterUse = { http: http(), promClient: promClient() };
console.log(JSON.stringify({ afterImport, afterUse }));
`;

test('importing corral loads neither the HTTP layer nor prom-client; listen() and createHttpHandler() do', {
  timeout: 60_000,
}, async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
    cwd: root,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop() as string) as {
    afterImport: { http: string[]; promClient: boolean };
    afterUse: { http: string[]; promClient: boolean };
  };
  // Only the small front of createHttpHandler (it validates options synchronously) and its options.
  assert.deepEqual(out.afterImport.http.sort(), ['http/lazy-handler.ts', 'http/options.ts']);
  assert.equal(out.afterImport.promClient, false);
  for (const file of ['http/handler.ts', 'http/server.ts', 'http/metrics.ts', 'http/sse.ts']) {
    assert.ok(out.afterUse.http.includes(file), `${file} loaded once used (${out.afterUse.http.join(', ')})`);
  }
  assert.equal(out.afterUse.promClient, true);
});

test('a WorkerOrchestrator is an OrchestratorControl (what the HTTP layer depends on)', () => {
  const control: OrchestratorControl = new WorkerOrchestrator({ logger: false });
  assert.equal(typeof control.getStatus, 'function');
});
