// Hardening of the HTTP control plane: Host and Origin checks (DNS rebinding), refused requests that
// stop reading their body, a body deadline of the handler's own, dead letters listed entry by entry
// and by page, store refusals as the caller's error, worker names equal to Object.prototype keys, and
// event ids with replay on reconnection. Each test names the item of the hardening list it covers.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import {
  createHttpHandler,
  type HttpHandlerOptions,
  type ListenOptions,
  type OrchestratorControl,
  type OrchestratorError,
  WorkerExecutionMode,
  type WorkerOrchestrator,
} from '../../src/index.ts';
import { useOrchestrator, waitFor } from '../helpers.ts';

const { TRIGGERED } = WorkerExecutionMode;
const TOKEN = 'hardening-token-0123456789';

async function serve(t: TestContext, orch: OrchestratorControl, options: ListenOptions = {}) {
  const server = await (orch as WorkerOrchestrator).listen({ host: '127.0.0.1', token: TOKEN, ...options });
  t.after(() => server.close());
  return server;
}

/** `createHttpHandler(control, options)` in a plain node:http server of the test's own, on 127.0.0.1. */
async function mount(t: TestContext, control: OrchestratorControl, options: HttpHandlerOptions = {}) {
  const handler = createHttpHandler(control, { token: TOKEN, ...options });
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    handler.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  json: any;
}

/** One request with node:http (fetch cannot set Host), body sent whole. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function assertError(reply: Reply, status: number, code: string): void {
  assert.equal(reply.status, status, `status (body: ${reply.text})`);
  assert.equal(reply.json?.error?.code, code, `code (body: ${reply.text})`);
  assert.equal(typeof reply.json.error.message, 'string');
}

const auth = { authorization: `Bearer ${TOKEN}` };

/** A TRIGGERED inline worker that fails while `state.fail`, else returns its payload. */
function switchable(orch: WorkerOrchestrator, name: string) {
  const state = { fail: true, runs: 0 };
  orch.registerWorker(
    name,
    (ctx) => {
      state.runs++;
      if (state.fail) throw new Error(`${name} failed`);
      return ctx.payload;
    },
    { executionMode: TRIGGERED, maxRetries: 0, retryDelayMs: 0, maxConsecutiveFailures: 1000 },
  );
  return state;
}

// ------------------------------------------------------------------ item 3: DNS rebinding

test('item 3 (DNS rebinding): on loopback, a Host that is not a loopback name nor allowed is refused', async (t) => {
  const orch = useOrchestrator(t);
  const { url } = await serve(t, orch);
  const port = new URL(url).port;
  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    'localhost',
    `corral.localhost:${port}`,
    '127.1.2.3',
    `[::1]:${port}`,
  ]) {
    assert.equal((await raw(url, 'GET', 'status', { host })).status, 200, host);
  }
  for (const host of [`attacker.example:${port}`, 'attacker.example', `localhost.attacker.example:${port}`]) {
    const reply = await raw(url, 'GET', 'status', { host });
    assertError(reply, 403, 'ERR_HOST_NOT_ALLOWED');
    assert.doesNotMatch(reply.text, /workerStates/, 'nothing of the status leaks');
  }
  // The dashboard too: a rebinding page must not read it.
  assertError(await raw(url, 'GET', '/', { host: 'attacker.example' }), 403, 'ERR_HOST_NOT_ALLOWED');
});

test('item 3 (DNS rebinding): allowedHosts lets named hosts and domains in; true allows any', async (t) => {
  const orch = useOrchestrator(t);
  const { url } = await serve(t, orch, { allowedHosts: ['corral.internal', '.example.com'] });
  for (const host of [
    'corral.internal',
    'CORRAL.internal:7070',
    'example.com',
    'ops.example.com',
    'localhost',
  ]) {
    assert.equal((await raw(url, 'GET', 'status', { host })).status, 200, host);
  }
  for (const host of ['other.internal', 'example.com.attacker.example', 'notexample.com']) {
    assertError(await raw(url, 'GET', 'status', { host }), 403, 'ERR_HOST_NOT_ALLOWED');
  }
  const open = await serve(t, orch, { allowedHosts: true });
  assert.equal((await raw(open.url, 'GET', 'status', { host: 'anything.example' })).status, 200);
  assert.throws(
    () => createHttpHandler(orch, { allowedHosts: [''] }),
    (error: OrchestratorError) => error.code === 'ERR_INVALID_OPTION',
  );
});

test('item 3 (DNS rebinding): a mutation whose Origin is neither the server nor allowed is refused', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  state.fail = false;
  await orch.start();
  const { url } = await serve(t, orch, { allowedHosts: ['.example.com'] });
  const host = new URL(url).host;
  for (const origin of ['http://attacker.example', 'null', `http://${host}.attacker.example`]) {
    const reply = await raw(url, 'POST', 'workers/job/trigger', { ...auth, origin });
    assertError(reply, 403, 'ERR_ORIGIN_NOT_ALLOWED');
  }
  assert.equal(state.runs, 0, 'nothing ran');
  for (const origin of [`http://${host}`, 'https://ops.example.com']) {
    assert.equal((await raw(url, 'POST', 'workers/job/trigger', { ...auth, origin })).status, 202, origin);
  }
  // Reads are not mutations: a foreign Origin may read (the Host check still applies).
  assert.equal((await raw(url, 'GET', 'status', { origin: 'http://attacker.example' })).status, 200);
});

// ------------------------------------------------------------------ item 4: refused requests

/**
 * Sends a request head, then body bytes as fast as the socket takes them, until the server closes the
 * connection. Resolves with the answer's head and how the connection ended.
 */
function endlessUpload(base: string, head: string): Promise<{ response: string; closed: boolean }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), hostname);
    let response = '';
    let done = false;
    const chunk = Buffer.from(`4000\r\n${'x'.repeat(0x4000)}\r\n`);
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, closed });
    };
    // Far below the server's own request timeout (60 s): a server still reading by then never stops.
    const timer = setTimeout(() => finish(false), 15_000);
    const pump = () => {
      while (!done && !socket.destroyed && socket.write(chunk)) {
        // keep writing while the socket takes it
      }
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    socket.on('drain', pump);
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      response += data;
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

test('item 4 (refused requests): 401, 403 and 413 answer, then close instead of reading an endless body', {
  timeout: 90_000,
}, async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  await orch.start();
  const { url } = await serve(t, orch);
  const host = new URL(url).host;
  const chunked = 'content-type: application/json\r\ntransfer-encoding: chunked\r\n';
  for (const [status, extra] of [
    [401, ''],
    [403, 'authorization: Bearer wrong-token\r\n'],
    [413, `authorization: Bearer ${TOKEN}\r\n`],
  ] as const) {
    const head = `POST /workers/job/trigger HTTP/1.1\r\nhost: ${host}\r\n${extra}${chunked}\r\n`;
    const { response, closed } = await endlessUpload(url, head);
    assert.match(
      response,
      new RegExp(`^HTTP/1\\.1 ${status} `),
      `answered ${status}: ${response.slice(0, 200)}`,
    );
    assert.match(response, /\r\nconnection: close\r\n/i, `${status}: Connection: close`);
    assert.ok(closed, `${status}: the server closed the connection instead of reading on`);
  }
  assert.equal(state.runs, 0);
});

// ------------------------------------------------------------------ item 5: body deadline

test('item 5 (slow bodies): a mounted handler answers 408 to a body slower than bodyTimeoutMs', {
  timeout: 60_000,
}, async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  await orch.start();
  // A plain node:http server keeps Node's defaults (requestTimeout 300 s): the handler's own deadline.
  const base = await mount(t, orch, { bodyTimeoutMs: 300 });
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  t.after(() => socket.destroy());
  let response = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (data: string) => {
    response += data;
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  socket.write(
    `POST /workers/job/trigger HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${TOKEN}\r\n` +
      'content-type: application/json\r\ncontent-length: 100\r\n\r\n',
  );
  // One byte every 100 ms: would take 10 s.
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write('1');
  }, 100);
  t.after(() => clearInterval(drip));
  await waitFor(() => /\r\n\r\n/.test(response), 10_000, 'an answer before the body is complete');
  clearInterval(drip);
  assert.match(response, /^HTTP\/1\.1 408 /);
  assert.match(response, /"code":"ERR_REQUEST_TIMEOUT"/);
  await waitFor(() => closed, 10_000, 'the connection closed');
  assert.equal(state.runs, 0);
  assert.throws(
    () => createHttpHandler(orch, { bodyTimeoutMs: 0 }),
    (error: OrchestratorError) => error.code === 'ERR_INVALID_OPTION' && /bodyTimeoutMs/.test(error.message),
  );
});
