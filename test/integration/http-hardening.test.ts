// Hardening of the HTTP control plane: Host and Origin checks (DNS rebinding), refused requests that
// stop reading their body, a body deadline of the handler's own, dead letters listed entry by entry
// and by page, store refusals as the caller's error, worker names equal to Object.prototype keys, and
// event ids with replay on reconnection. Each test names the item of the hardening list it covers.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import type { OrchestratorControl } from '../../src/index.ts';
import {
  createHttpHandler,
  type DeadLetter,
  type HttpHandlerOptions,
  type ListenOptions,
  OrchestratorError,
  type OrchestratorStatus,
  WorkerExecutionMode,
  type WorkerOrchestrator,
  type WorkerStatus,
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

// ------------------------------------------------------------------ items 6 and 10: dead letters

function deepObject(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { next: value };
  return value;
}

test('item 6 (dead letters): an entry whose payload cannot be serialised gets a placeholder; the rest is intact', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'job');
  await orch.start();
  await assert.rejects(orch.run('job', deepObject(100_000)));
  await assert.rejects(orch.run('job', { n: 2 }));
  const [bad, good] = orch.deadLetters.list() as [DeadLetter, DeadLetter];
  const { url } = await serve(t, orch);

  const list = await raw(url, 'GET', 'dead-letters');
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.json.deadLetters.map((d: DeadLetter) => d.id),
    [bad.id, good.id],
  );
  const withPayloads = await raw(url, 'GET', 'dead-letters?payload=1');
  assert.equal(withPayloads.status, 200);
  const [first, second] = withPayloads.json.deadLetters;
  assert.equal(first.id, bad.id);
  assert.equal(first.name, 'job');
  assert.equal(first.reason, 'error');
  assert.equal('payload' in first, false);
  assert.match(first.payloadError, /cannot be serialised/);
  assert.deepEqual(second.payload, { n: 2 });
  assert.equal(second.id, good.id);

  const one = await raw(url, 'GET', `dead-letters/${bad.id}`);
  assert.equal(one.status, 200);
  assert.equal(one.json.id, bad.id);
  assert.match(one.json.payloadError, /cannot be serialised/);
});

test('item 10 (dead letters): paginated with limit / after / next, payloads only when asked', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'a');
  switchable(orch, 'b');
  await orch.start();
  for (let i = 0; i < 5; i++) await assert.rejects(orch.run(i % 2 === 0 ? 'a' : 'b', { i }));
  const all = orch.deadLetters.list();
  const { url } = await serve(t, orch);

  const ids: string[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const query: string = next === null ? 'limit=2' : `limit=2&after=${encodeURIComponent(next)}`;
    const page = await raw(url, 'GET', `dead-letters?${query}`);
    assert.equal(page.status, 200, page.text);
    assert.equal(page.json.total, 5);
    assert.ok(page.json.deadLetters.length <= 2);
    for (const entry of page.json.deadLetters) {
      assert.equal('payload' in entry, false, 'no payload unless asked');
      assert.equal(typeof entry.error, 'string');
      ids.push(entry.id);
    }
    next = page.json.next;
    pages++;
  } while (next !== null && pages < 10);
  assert.equal(pages, 3);
  assert.deepEqual(
    ids,
    all.map((d) => d.id),
  );

  const defaults = await raw(url, 'GET', 'dead-letters');
  assert.equal(defaults.json.deadLetters.length, 5);
  assert.equal(defaults.json.next, null);
  const withPayload = await raw(url, 'GET', 'dead-letters?payload=1&worker=b');
  assert.deepEqual(
    withPayload.json.deadLetters.map((d: DeadLetter) => d.payload),
    [{ i: 1 }, { i: 3 }],
  );
  assert.equal(withPayload.json.total, 2);
  const newest = await raw(url, 'GET', 'dead-letters?order=desc&limit=1');
  assert.equal(newest.json.deadLetters[0].id, all[4]?.id);
  assert.equal(newest.json.next, all[4]?.id);

  const one = await raw(url, 'GET', `dead-letters/${all[0]?.id}`);
  assert.deepEqual(one.json, all[0]);
  assertError(await raw(url, 'GET', 'dead-letters/nope'), 404, 'ERR_UNKNOWN_DEAD_LETTER');
  for (const query of ['limit=0', 'limit=1001', 'limit=x', 'after=nope', 'order=sideways']) {
    assertError(await raw(url, 'GET', `dead-letters?${query}`), 400, 'ERR_BAD_REQUEST');
  }
});

// ------------------------------------------------------------------ items 7 and 8: a stand-in orchestrator

function workerStatus(overrides: Partial<WorkerStatus> = {}): WorkerStatus {
  return {
    enabled: true,
    running: false,
    failures: 0,
    runningCount: 0,
    queued: 0,
    breaker: 'closed',
    totals: { runs: 1, succeeded: 1, failed: 0, retries: 0, timeouts: 0, crashes: 0 },
    ...overrides,
  };
}

/** An OrchestratorControl that is not a WorkerOrchestrator: what the HTTP layer needs, and no more. */
function standIn(overrides: Partial<OrchestratorControl> = {}): OrchestratorControl {
  const workerStates: Record<string, WorkerStatus> = Object.create(null);
  // As getStatus() builds it: a null-prototype object, where "__proto__" is a name like any other.
  Object.defineProperty(workerStates, '__proto__', { value: workerStatus(), enumerable: true });
  workerStates.plain = workerStatus();
  const status: OrchestratorStatus = {
    state: 'running',
    workers: 2,
    running: 0,
    queued: 0,
    containment: 'process-group',
    workerStates,
  };
  return {
    getStatus: () => status,
    getWorker: () => undefined,
    getHistory: () => [],
    deadLetters: { list: () => [], get: () => undefined, replay: async () => null, remove: () => false },
    triggerWorker: async () => true,
    enableWorker: () => {},
    disableWorker: () => {},
    on: () => undefined,
    off: () => undefined,
    ...overrides,
  };
}

test('item 7 (store refusals): ERR_STORE at the call is 422, ERR_PAYLOAD_TOO_LARGE 413, with their codes', async (t) => {
  for (const [code, status] of [
    ['ERR_STORE', 422],
    ['ERR_PAYLOAD_TOO_LARGE', 413],
  ] as const) {
    const control = standIn({
      triggerWorker: () =>
        Promise.reject(new OrchestratorError(code as never, `the payload cannot be kept (${code})`)),
    });
    const base = await mount(t, control);
    const reply = await raw(
      base,
      'POST',
      'workers/plain/trigger',
      { ...auth, 'content-type': 'application/json' },
      '{"big":true}',
    );
    assertError(reply, status, code);
  }
});

test('item 8 (prototype keys): "constructor" and "toString" are unknown workers, "__proto__" a worker like any other', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  await orch.start();
  const { url } = await serve(t, orch);
  for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
    for (const action of ['trigger', 'enable', 'disable']) {
      const reply = await raw(url, 'POST', `workers/${name}/${action}`, auth);
      assertError(reply, 404, 'ERR_UNKNOWN_WORKER');
    }
  }
  assert.equal(state.runs, 0);

  // "__proto__" in the status (a null-prototype workerStates) is listed and measured.
  const base = await mount(t, standIn());
  const status = await raw(base, 'GET', 'status');
  assert.deepEqual(Object.keys(status.json.workerStates).sort(), ['__proto__', 'plain']);
  const metrics = await raw(base, 'GET', 'metrics');
  assert.match(metrics.text, /corral_runs_total\{worker="__proto__",outcome="succeeded"\} 1/);
  assert.match(metrics.text, /corral_runs_total\{worker="plain",outcome="succeeded"\} 1/);
});

test('item 8 (prototype keys): a real worker named "__proto__" runs and shows in /status and /metrics', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('__proto__', () => 'ran', { executionMode: 'triggered' });
  orch.registerWorker('constructor', () => 'ran', { executionMode: 'triggered' });
  await orch.start();
  const { url } = await serve(t, orch);
  for (const name of ['__proto__', 'constructor']) {
    const reply = await raw(url, 'POST', `workers/${name}/trigger`, auth);
    assert.equal(reply.status, 202);
  }
  await waitFor(
    () =>
      Object.getOwnPropertyDescriptor(orch.getStatus().workerStates, '__proto__')?.value?.totals.succeeded ===
      1,
  );
  const status = await raw(url, 'GET', 'status');
  assert.deepEqual(Object.keys(status.json.workerStates).sort(), ['__proto__', 'constructor']);
  const metrics = await raw(url, 'GET', 'metrics');
  assert.match(metrics.text, /corral_runs_total\{worker="__proto__",outcome="succeeded"\} 1/);
});

// ------------------------------------------------------------------ item 9: event ids and replay

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** Opens GET /events (optionally with Last-Event-ID) and collects its frames until `close()`. */
async function events(base: string, lastEventId?: string) {
  const controller = new AbortController();
  const headers: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': lastEventId };
  const res = await fetch(new URL('events', base), { signal: controller.signal, headers });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const frames: Frame[] = [];
  let buffer = '';
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const frame: Frame = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith('id: ')) frame.id = line.slice(4);
            else if (line.startsWith('event: ')) frame.event = line.slice(7);
            else if (line.startsWith('data: ')) frame.data = line.slice(6);
          }
          if (frame.event !== undefined) frames.push(frame);
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    frames,
    async close() {
      controller.abort();
      await pump;
    },
  };
}

test('item 9 (SSE): events carry ids; a client reconnecting with Last-Event-ID gets what it missed', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  state.fail = false;
  await orch.start();
  const { url } = await serve(t, orch);

  const first = await events(url);
  t.after(() => first.close());
  await orch.run('job', 1);
  await waitFor(() => first.frames.some((f) => f.event === 'worker:success'), 5000, 'the first success');
  const ids = first.frames.map((f) => f.id);
  assert.ok(
    ids.every((id) => typeof id === 'string' && id !== ''),
    `every event has an id: ${ids}`,
  );
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  const lastSeen = first.frames.at(-1)?.id as string;
  await first.close();

  // Missed while disconnected.
  await orch.run('job', 2);
  await orch.run('job', 3);

  const again = await events(url, lastSeen);
  t.after(() => again.close());
  await waitFor(
    () => again.frames.filter((f) => f.event === 'worker:success').length >= 2,
    5000,
    'the two missed successes replayed',
  );
  const replayed = again.frames.map((f) => [f.event, JSON.parse(f.data ?? '{}').result ?? null]);
  assert.deepEqual(replayed.slice(0, 4), [
    ['worker:start', null],
    ['worker:success', 2],
    ['worker:start', null],
    ['worker:success', 3],
  ]);
  assert.ok(!again.frames.some((f) => f.id === lastSeen), 'nothing already seen is sent again');

  // Live events follow the replay, with later ids.
  await orch.run('job', 4);
  await waitFor(() => again.frames.filter((f) => f.event === 'worker:success').length >= 3, 5000, 'live');
  await again.close();
});
