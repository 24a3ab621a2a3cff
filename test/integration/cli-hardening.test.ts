// Hardening of the `corral` CLI: a config that never finishes loading, every config problem reported,
// a --url that is not corral, dead letters read page by page and printed without terminal control
// sequences. Each test names the item of the hardening list it covers. The CLI runs from source.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { corral, describeResult } from '../cli-helpers.ts';

const describe = describeResult;

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-hardening-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A local HTTP server answering with `handle`, closed when the tests end. */
async function fakeServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
const CONTROL_CHARACTER = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

const ECHO = 'export default (ctx) => ctx.payload ?? null;\n';

test('item 13 (config timeout): a config whose default export never settles exits 2 with a message', {
  timeout: 120_000,
}, async () => {
  const dir = project({
    'echo.mjs': ECHO,
    // No timer of its own: without the CLI's deadline, node would find nothing left to do (exit 13).
    'never.mjs': 'export default new Promise(() => {});\n',
    // A pending timer of its own: without the deadline, the CLI would wait for it.
    'slow.mjs':
      'export default async () => { await new Promise((r) => setTimeout(r, 3_600_000)); return {}; };\n',
  });
  const [never, slow, check] = await Promise.all([
    corral(['run', join(dir, 'never.mjs')], { CORRAL_CONFIG_TIMEOUT: '1' }),
    corral(['run', '--config-timeout', '1', join(dir, 'slow.mjs')]),
    corral(['check', join(dir, 'never.mjs')], { CORRAL_CONFIG_TIMEOUT: '0.5' }),
  ]);
  for (const r of [never, slow, check]) {
    assert.equal(r.code, 2, describe(r));
    assert.match(r.stderr, /did not finish loading within [\d.]+ s/, describe(r));
    assert.match(r.stderr, /--config-timeout|CORRAL_CONFIG_TIMEOUT/);
    assert.doesNotMatch(r.stdout, /started|listening/);
  }
});

test('item 14 (config problems): every problem is reported, one per line, and dependsOn is still checked', {
  timeout: 60_000,
}, async () => {
  const dir = project({
    'echo.mjs': ECHO,
    'bad.json': JSON.stringify({
      orchestrator: { maxConcurrentWorkers: 0, shutdownTimeoutMs: -5 },
      workers: {
        a: { module: './echo.mjs', timeoutSeconds: -1, maxRetries: -2, concurrency: 0 },
        b: { module: './echo.mjs', executionMode: 'triggered', dependsOn: ['nobody'] },
      },
    }),
  });
  const r = await corral(['check', join(dir, 'bad.json')]);
  assert.equal(r.code, 2, describe(r));
  for (const expected of [
    /bad\.json: orchestrator: maxConcurrentWorkers .*got 0/,
    /bad\.json: orchestrator: shutdownTimeoutMs .*got -5/,
    /bad\.json: worker "a": timeoutSeconds .*got -1/,
    /bad\.json: worker "a": maxRetries .*got -2/,
    /bad\.json: worker "a": concurrency .*got 0/,
    /bad\.json: worker "b": dependsOn names "nobody", which is not registered/,
    /the config has 6 problems/,
  ]) {
    assert.match(r.stderr, expected, describe(r));
  }
});

test('item 15 (--url): a server that is not corral is "not a corral server", exit 3, and its page is not dumped', {
  timeout: 60_000,
}, async () => {
  const html = '<!doctype html><html><body><h1>Not Found</h1><p>nginx</p></body></html>';
  const url = await fakeServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end(html);
  });
  const okButHtml = await fakeServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  const [notFound, ok] = await Promise.all([
    corral(['status', '--url', url]),
    corral(['dead-letters', '--url', okButHtml]),
  ]);
  for (const r of [notFound, ok]) {
    assert.equal(r.code, 3, describe(r));
    assert.match(r.stderr, /not a corral server/, describe(r));
    assert.doesNotMatch(r.stderr, /<html|<h1|nginx/, 'the page is not dumped');
  }
});

test('items 10 and 16 (dead-letters list): follows every page; worker text is printed without control sequences', {
  timeout: 60_000,
}, async () => {
  const entries = Array.from({ length: 5 }, (_, i) => ({
    id: `id-${i}`,
    name: i === 3 ? 'evil\x1b]0;pwned\x07' : 'job',
    reason: 'error',
    error:
      i === 3
        ? 'boom \x1b[2J\x1b[31mred\x1b[0m \x9b1;1H \x1b]8;;http://x.example\x1b\\link\x1b]8;;\x1b\\ bell\x07'
        : 'e',
    attempts: 1,
    failedAt: '2026-01-01T00:00:00.000Z',
    payload: { i },
  }));
  const asked: string[] = [];
  const url = await fakeServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    asked.push(query.toString());
    const limit = 2;
    const start = query.has('after') ? entries.findIndex((e) => e.id === query.get('after')) + 1 : 0;
    const page = entries
      .slice(start, start + limit)
      .map(({ payload, ...rest }) => (query.get('payload') === '1' ? { ...rest, payload } : rest));
    const next = start + limit < entries.length ? (page.at(-1)?.id ?? null) : null;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ deadLetters: page, next, total: entries.length }));
  });
  const table = await corral(['dead-letters', '--url', url]);
  assert.equal(table.code, 0, describe(table));
  assert.match(table.stdout, /^5 dead letters$/m);
  for (let i = 0; i < 5; i++) assert.ok(table.stdout.includes(`id-${i}`), `id-${i}`);
  assert.doesNotMatch(table.stdout, /payload/, 'no payload column unless asked');
  assert.doesNotMatch(table.stdout, CONTROL_CHARACTER, 'no control character reaches the terminal');
  assert.match(table.stdout, /boom red 1;1H link bell|boom red link bell/);
  assert.match(table.stdout, /evil/);
  assert.doesNotMatch(table.stdout, /pwned/, 'an OSC sequence goes whole, its text too');

  const json = await corral(['dead-letters', 'list', '--json', '--payload', '--url', url]);
  assert.equal(json.code, 0, describe(json));
  assert.deepEqual(
    (JSON.parse(json.stdout) as { payload: unknown }[]).map((d) => d.payload),
    entries.map((e) => e.payload),
  );
  assert.ok(asked.some((q) => q.includes('payload=1') && q.includes('after=id-1')));
  const limited = await corral(['dead-letters', 'list', '--json', '--limit', '3', '--url', url]);
  assert.equal((JSON.parse(limited.stdout) as unknown[]).length, 3);
});
