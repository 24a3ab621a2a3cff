// HTTP layer (DESIGN 3b "Operating"): every route on a real server on 127.0.0.1, auth, body limits,
// Prometheus text, server-sent events, health, a handler mounted in a host's own server, clean close.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListenOptions } from '../../src/http/server.ts';
import {
  createHttpHandler,
  type DeadLetter,
  WorkerExecutionMode,
  type WorkerOrchestrator,
} from '../../src/index.ts';
import { gate, isCode, openEvents, useOrchestrator, waitFor } from '../helpers.ts';

const { TRIGGERED } = WorkerExecutionMode;
const TOKEN = 'test-token-0123456789';

/** A file of the dashboard as it is in the repository (served as is). */
function dashboardFile(name: string): string {
  return readFileSync(new URL(`../../src/http/dashboard/${name}`, import.meta.url), 'utf8');
}

/** `orch.listen(options)` on 127.0.0.1, closed when the test ends. */
async function serve(t: TestContext, orch: WorkerOrchestrator, options: ListenOptions = {}) {
  const server = await orch.listen({ host: '127.0.0.1', token: TOKEN, ...options });
  t.after(() => server.close());
  return server;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  json: any;
}

/** One request; `token: null` sends no Authorization header, a string sends it as the bearer. */
async function call(
  base: string,
  method: string,
  path: string,
  { token = TOKEN as string | null, body = undefined as string | undefined, headers = {} } = {},
): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (token !== null) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = body;
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(new URL(path, base), init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Asserts an error reply: `status`, and `{ error: { code, message } }` with `code`. */
function assertError(reply: Reply, status: number, code: string): void {
  assert.equal(reply.status, status, `status (body: ${reply.text})`);
  assert.equal(reply.json?.error?.code, code, `code (body: ${reply.text})`);
  assert.equal(typeof reply.json.error.message, 'string');
  assert.ok(reply.json.error.message.length > 0);
}

/** A TRIGGERED inline worker that fails while `state.fail` and otherwise returns its payload. */
function switchable(orch: WorkerOrchestrator, name: string, options = {}) {
  const state = { fail: true, payloads: [] as unknown[] };
  orch.registerWorker(
    name,
    (ctx) => {
      state.payloads.push(ctx.payload);
      if (state.fail) throw Object.assign(new Error(`${name} failed`), { code: 'E_SWITCH' });
      return { echoed: ctx.payload };
    },
    { executionMode: TRIGGERED, maxRetries: 0, retryDelayMs: 0, maxConsecutiveFailures: 100, ...options },
  );
  return state;
}

// ------------------------------------------------------------------ Prometheus text

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(
  `^(${NAME})(\\{(?:${LABEL})(?:,${LABEL})*,?\\})? (-?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|NaN|[+-]Inf)( -?\\d+)?$`,
);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format strictly: every line is a HELP or TYPE comment, or a
 * sample of a family whose HELP and TYPE came before it. Returns the samples.
 */
function parsePrometheus(text: string): Sample[] {
  const help = new Set<string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment !== null) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      assert.match(name, new RegExp(`^${NAME}$`), `metric name in "${line}"`);
      if (kind === 'HELP') help.add(name);
      else {
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/, `type in "${line}"`);
        types.set(name, rest);
      }
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment "${line}"`);
    const m = SAMPLE.exec(line);
    assert.ok(m !== null, `line is not in the exposition format: "${line}"`);
    const name = m[1] as string;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(help.has(family), `HELP line before ${name}`);
    assert.ok(types.has(family), `TYPE line before ${name}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = value as string;
    }
    samples.push({ name, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample `name` with exactly these labels (undefined if absent). */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

async function scrape(base: string): Promise<Sample[]> {
  const reply = await call(base, 'GET', 'metrics', { token: null });
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(reply.text);
}

// ------------------------------------------------------------------ read routes

test('GET / serves the dashboard page, its stylesheet and script as files, under a strict CSP', async (t) => {
  const orch = useOrchestrator(t);
  const { url } = await serve(t, orch);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  for (const [path, file, type] of [
    ['/', 'index.html', /^text\/html/],
    ['dashboard.css', 'dashboard.css', /^text\/css/],
    ['dashboard.js', 'dashboard.js', /^text\/javascript/],
  ] as const) {
    const reply = await call(url, 'GET', path, { token: null });
    assert.equal(reply.status, 200, path);
    assert.match(reply.headers.get('content-type') ?? '', type, path);
    assert.equal(reply.text, dashboardFile(file), path);
    const csp = reply.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      assert.ok(csp.split(/;\s*/).includes(directive), `${path}: ${directive} in ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  }
  // Nothing inline for that policy to block: the page only links its two files.
  const html = dashboardFile('index.html');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  assert.match(html, /<script src="dashboard\.js" defer><\/script>/);
  assert.match(html, /<link rel="stylesheet" href="dashboard\.css">/);
});

test('GET /status: getStatus() with, per worker, its mode, isolation and latest runs', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('job', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  orch.registerWorker('tick', () => 1, { intervalSeconds: 3600 });
  await orch.start();
  for (let i = 0; i < 3; i++) await orch.run('job', i);
  const { url } = await serve(t, orch);

  const reply = await call(url, 'GET', 'status', { token: null });
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  const status = orch.getStatus();
  const body = reply.json;
  // Every field of getStatus() is there, unrenamed (resources and timestamps aside, which move).
  assert.equal(body.state, 'running');
  assert.equal(body.workers, status.workers);
  for (const [name, state] of Object.entries(status.workerStates)) {
    for (const key of Object.keys(state)) assert.ok(key in body.workerStates[name], `${name}.${key}`);
  }
  const job = body.workerStates.job;
  assert.equal(job.mode, 'triggered');
  assert.equal(job.isolation, 'inline');
  assert.deepEqual(job.totals, status.workerStates.job?.totals);
  assert.equal(job.history.length, 3);
  assert.deepEqual(
    job.history.map((r: { outcome: string }) => r.outcome),
    ['succeeded', 'succeeded', 'succeeded'],
  );
  assert.equal(body.workerStates.tick.mode, 'scheduled');

  const limited = await call(url, 'GET', 'status?history=1', { token: null });
  assert.equal(limited.json.workerStates.job.history.length, 1);
  assertError(await call(url, 'GET', 'status?history=-2', { token: null }), 400, 'ERR_BAD_REQUEST');
});

test('GET /dead-letters lists the dead letters, optionally of one worker', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'a');
  switchable(orch, 'b');
  await orch.start();
  await assert.rejects(orch.run('a', { n: 1 }));
  await assert.rejects(orch.run('b', { n: 2 }));
  const { url } = await serve(t, orch);

  const all = await call(url, 'GET', 'dead-letters?payload=1', { token: null });
  assert.equal(all.status, 200);
  assert.deepEqual(all.json, { deadLetters: orch.deadLetters.list(), next: null, total: 2 });
  const ofA = await call(url, 'GET', 'dead-letters?worker=a&payload=1', { token: null });
  assert.deepEqual(
    ofA.json.deadLetters.map((d: DeadLetter) => [d.name, d.payload]),
    [['a', { n: 1 }]],
  );
});

test('GET /healthz: 503 before start, 200 while running, 503 after stop', async (t) => {
  const orch = useOrchestrator(t);
  const { url } = await serve(t, orch);
  const before = await call(url, 'GET', 'healthz', { token: null });
  assert.equal(before.status, 503);
  assert.equal(before.json.ok, false);
  assert.match(before.json.reason, /stopped/);
  assert.equal(before.json.error.code, 'ERR_NOT_RUNNING');

  await orch.start();
  const running = await call(url, 'GET', 'healthz', { token: null });
  assert.equal(running.status, 200);
  assert.equal(running.json.ok, true);
  assert.equal(running.json.state, 'running');
  assert.equal(typeof running.json.eventLoopDelayMs.max, 'number');

  await orch.stop();
  const after = await call(url, 'GET', 'healthz', { token: null });
  assert.equal(after.status, 503);
  assert.equal(after.json.ok, false);
  assert.match(after.json.reason, /stopped/);
});

test('GET /healthz: 503 while the event loop lags, 200 again once it keeps time', async (t) => {
  const orch = useOrchestrator(t);
  await orch.start();
  const { url } = await serve(t, orch, { maxEventLoopDelayMs: 150, healthWindowMs: 400 });
  assert.equal((await call(url, 'GET', 'healthz', { token: null })).status, 200);
  // The delay monitor measures from its first tick on (its resolution is 20 ms): let it tick first.
  await sleep(100);
  const until = performance.now() + 400;
  while (performance.now() < until) {
    // block the event loop, as a runaway synchronous job in the host would
  }
  const lagging = await waitFor(
    async () => {
      const reply = await call(url, 'GET', 'healthz', { token: null });
      return reply.status === 503 ? reply : undefined;
    },
    2000,
    '503 after a stall',
  );
  assert.equal(lagging.json.error.code, 'ERR_LAGGING');
  assert.match(lagging.json.reason, /event loop/);
  assert.ok(lagging.json.eventLoopDelayMs.max >= 150);
  await waitFor(
    async () => (await call(url, 'GET', 'healthz', { token: null })).status === 200,
    3000,
    '200 again',
  );
});

test('GET /metrics: valid Prometheus text whose counters and gauges move with runs', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('ok', (ctx) => ctx.payload, { executionMode: TRIGGERED });
  // Fails after one retry, then its breaker opens (maxConsecutiveFailures 1).
  switchable(orch, 'bad', { maxRetries: 1, maxConsecutiveFailures: 1 });
  orch.registerWorker(
    'slow',
    ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', reject)),
    {
      executionMode: TRIGGERED,
      timeoutSeconds: 0.05,
      maxRetries: 0,
      maxConsecutiveFailures: 100,
    },
  );
  await orch.start();
  const { url } = await serve(t, orch);

  const before = await scrape(url);
  for (const family of [
    'corral_runs_total',
    'corral_run_duration_seconds',
    'corral_running',
    'corral_queued',
    'corral_breaker_state',
    'corral_worker_cpu_percent',
    'corral_worker_memory_bytes',
    'corral_dead_letters',
    'corral_retries_total',
    'corral_timeouts_total',
    'corral_crashes_total',
  ]) {
    const reply = await call(url, 'GET', 'metrics', { token: null });
    assert.match(reply.text, new RegExp(`^# HELP ${family} `, 'm'), `HELP ${family}`);
    assert.match(reply.text, new RegExp(`^# TYPE ${family} `, 'm'), `TYPE ${family}`);
  }
  assert.equal(sampleValue(before, 'corral_runs_total', { worker: 'ok', outcome: 'succeeded' }), 0);
  assert.equal(sampleValue(before, 'corral_breaker_state', { worker: 'bad' }), 0);

  await orch.run('ok', 1);
  await orch.run('ok', 2);
  await assert.rejects(orch.run('bad'));
  await assert.rejects(orch.run('slow'));

  const after = await scrape(url);
  const v = (name: string, labels: Record<string, string>) => sampleValue(after, name, labels);
  assert.equal(v('corral_runs_total', { worker: 'ok', outcome: 'succeeded' }), 2);
  assert.equal(v('corral_runs_total', { worker: 'ok', outcome: 'failed' }), 0);
  assert.equal(v('corral_runs_total', { worker: 'bad', outcome: 'failed' }), 1);
  assert.equal(v('corral_runs_total', { worker: 'slow', outcome: 'failed' }), 1);
  assert.equal(v('corral_retries_total', { worker: 'bad' }), 1);
  assert.equal(v('corral_timeouts_total', { worker: 'slow' }), 1);
  assert.equal(v('corral_crashes_total', { worker: 'ok' }), 0);
  assert.equal(v('corral_dead_letters', { worker: 'bad' }), 1);
  assert.equal(v('corral_dead_letters', { worker: 'ok' }), 0);
  assert.equal(v('corral_breaker_state', { worker: 'bad' }), 2);
  assert.equal(v('corral_breaker_state', { worker: 'ok' }), 0);
  assert.equal(v('corral_running', { worker: 'ok' }), 0);
  assert.equal(v('corral_queued', { worker: 'ok' }), 0);
  assert.equal(v('corral_run_duration_seconds_count', { worker: 'ok' }), 2);
  assert.equal(v('corral_run_duration_seconds_count', { worker: 'bad' }), 1);
  const slowSum = v('corral_run_duration_seconds_sum', { worker: 'slow' }) as number;
  assert.ok(slowSum >= 0.04 && slowSum < 5, `slow run lasted ~50 ms, got ${slowSum}s`);
  assert.equal(v('corral_run_duration_seconds_bucket', { worker: 'ok', le: '+Inf' }), 2);

  // Scrapes read the totals, they do not add them up.
  const again = await scrape(url);
  assert.equal(sampleValue(again, 'corral_runs_total', { worker: 'ok', outcome: 'succeeded' }), 2);
});

test('GET /metrics: running and queued gauges show runs in flight', async (t) => {
  const orch = useOrchestrator(t);
  const g = gate();
  orch.registerWorker('held', () => g.opened, { executionMode: TRIGGERED });
  await orch.start();
  const { url } = await serve(t, orch);
  const runs = [orch.run('held'), orch.run('held')];
  await waitFor(() => orch.getStatus().workerStates.held?.running);
  const during = await scrape(url);
  assert.equal(sampleValue(during, 'corral_running', { worker: 'held' }), 1);
  assert.equal(sampleValue(during, 'corral_queued', { worker: 'held' }), 1);
  g.open();
  await Promise.all(runs);
});

// ------------------------------------------------------------------ events

test('GET /events streams worker:start and worker:success of a triggered run', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('job', (ctx) => ({ doubled: (ctx.payload as number) * 2 }), {
    executionMode: TRIGGERED,
  });
  await orch.start();
  const server = await serve(t, orch);
  const { url } = server;
  const baseline = orch.listenerCount('worker:start');
  const stream = await openEvents(url);
  t.after(() => stream.abort());
  await waitFor(() => stream.frames.some((f) => f.comment === 'connected'));

  const reply = await call(url, 'POST', 'workers/job/trigger', { body: '21' });
  assert.equal(reply.status, 202);
  const start = await stream.next('worker:start', (d) => d.name === 'job');
  assert.equal(start.attempt, 1);
  assert.equal(typeof start.runId, 'string');
  const success = await stream.next('worker:success', (d) => d.runId === start.runId);
  assert.deepEqual(success.result, { doubled: 42 });
  assert.equal(typeof success.durationMs, 'number');

  // One listener per event, whatever the number of clients; kept a while after the last client left
  // (events are recorded for a reconnection with Last-Event-ID), released when the handler closes.
  assert.equal(orch.listenerCount('worker:start'), baseline + 1);
  const second = await openEvents(url);
  await waitFor(() => second.frames.length > 0);
  assert.equal(orch.listenerCount('worker:start'), baseline + 1);
  await second.abort();
  await stream.abort();
  assert.equal(orch.listenerCount('worker:start'), baseline + 1);
  await server.close();
  await waitFor(() => orch.listenerCount('worker:start') === 0, 2000, 'listeners removed');
  assert.equal(orch.listenerCount('worker:success'), 0);
  assert.equal(orch.listenerCount('worker:dead-letter'), 0);
});

test('GET /events: errors as { name, message, code }, every event, heartbeat comments', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'bad', { maxConsecutiveFailures: 1 });
  const { url } = await serve(t, orch, { heartbeatMs: 50 });
  const stream = await openEvents(url);
  t.after(() => stream.abort());
  await orch.start();
  await stream.next('orchestrator:started');
  await assert.rejects(orch.run('bad', { x: 1 }));

  const failure = await stream.next('worker:failure', (d) => d.name === 'bad');
  assert.deepEqual(failure.error, { name: 'Error', message: 'bad failed', code: 'E_SWITCH' });
  assert.equal(failure.reason, 'error');
  assert.equal(failure.willRetry, false);
  const dead = await stream.next('worker:dead-letter');
  assert.deepEqual((dead.entry as DeadLetter).payload, { x: 1 });
  assert.equal((await stream.next('worker:disabled')).consecutiveFailures, 1);
  orch.enableWorker('bad');
  assert.deepEqual(await stream.next('worker:enabled'), { name: 'bad' });
  await waitFor(() => stream.frames.some((f) => f.comment === 'heartbeat'), 2000, 'a heartbeat');
  await orch.stop();
  const stopped = await stream.next('orchestrator:stopped');
  assert.deepEqual(Object.keys(stopped).sort(), ['completed', 'dropped', 'requeued', 'terminated']);
});

// ------------------------------------------------------------------ mutations

const MUTATIONS: [string, string][] = [
  ['POST', 'workers/job/trigger'],
  ['POST', 'workers/job/enable'],
  ['POST', 'workers/job/disable'],
  ['POST', 'dead-letters/some-id/replay'],
  ['DELETE', 'dead-letters/some-id'],
];

test('mutations: 401 without a bearer token, 403 with a wrong one, and nothing happens', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  await orch.start();
  const { url } = await serve(t, orch);
  for (const [method, path] of MUTATIONS) {
    const none = await call(url, method, path, { token: null, body: '{}' });
    assertError(none, 401, 'ERR_UNAUTHORIZED');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const basic = await call(url, method, path, {
      token: null,
      body: '{}',
      headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
    });
    assertError(basic, 401, 'ERR_UNAUTHORIZED');
    assertError(await call(url, method, path, { token: `${TOKEN}x`, body: '{}' }), 403, 'ERR_FORBIDDEN');
    assertError(await call(url, method, path, { token: 'short', body: '{}' }), 403, 'ERR_FORBIDDEN');
  }
  assert.deepEqual(state.payloads, [], 'no run happened');
  assert.equal(orch.getWorker('job')?.isEnabled, true);
  // The scheme is case-insensitive (RFC 7235).
  const lower = await call(url, 'POST', 'workers/job/disable', {
    token: null,
    headers: { authorization: `bearer ${TOKEN}` },
  });
  assert.equal(lower.status, 200);
});

test('mutations: refused with 403 when no token is configured', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'job');
  await orch.start();
  const { url } = await serve(t, orch, { token: undefined });
  for (const [method, path] of MUTATIONS) {
    for (const token of [null, 'anything', '']) {
      const reply = await call(url, method, path, { token, body: '{}' });
      assertError(reply, 403, 'ERR_FORBIDDEN');
      assert.match(reply.json.error.message, /no token is configured/);
    }
  }
  assert.equal(orch.getWorker('job')?.isEnabled, true);
  // Reads stay open.
  assert.equal((await call(url, 'GET', 'status', { token: null })).status, 200);
});

test('POST /workers/:name/trigger: 202 at once with the JSON payload; 404, 409, 429, 503', async (t) => {
  const orch = useOrchestrator(t);
  const g = gate();
  const seen: unknown[] = [];
  orch.registerWorker(
    'job',
    async (ctx) => {
      seen.push(ctx.payload);
      await g.opened;
    },
    { executionMode: TRIGGERED, maxQueue: 1 },
  );
  orch.registerWorker('off', () => 1, { executionMode: TRIGGERED });
  const { url } = await serve(t, orch);

  // Not started yet.
  assertError(await call(url, 'POST', 'workers/job/trigger', { body: '{}' }), 503, 'ERR_NOT_RUNNING');
  await orch.start();

  const accepted = await call(url, 'POST', 'workers/job/trigger', { body: '{"order":7,"tags":["a"]}' });
  assert.equal(accepted.status, 202);
  assert.deepEqual(accepted.json, { accepted: true, worker: 'job' });
  // The run is still going (held by the gate): the reply did not wait for it.
  await waitFor(() => seen.length === 1);
  assert.deepEqual(seen, [{ order: 7, tags: ['a'] }]);
  assert.equal(orch.getStatus().workerStates.job?.running, true);

  // One run may wait (maxQueue 1); the next is refused.
  assert.equal((await call(url, 'POST', 'workers/job/trigger')).status, 202);
  assertError(await call(url, 'POST', 'workers/job/trigger', { body: '1' }), 429, 'ERR_QUEUE_FULL');

  assertError(await call(url, 'POST', 'workers/nope/trigger', { body: '{}' }), 404, 'ERR_UNKNOWN_WORKER');
  orch.disableWorker('off');
  assertError(await call(url, 'POST', 'workers/off/trigger', { body: '{}' }), 409, 'ERR_WORKER_DISABLED');

  g.open();
  await waitFor(() => seen.length === 2 && !orch.getStatus().workerStates.job?.running);
  assert.equal(seen[1], undefined, 'an empty body is no payload');

  await orch.stop();
  assertError(await call(url, 'POST', 'workers/job/trigger', { body: '{}' }), 503, 'ERR_NOT_RUNNING');
});

test('POST /workers/:name/enable and /disable', async (t) => {
  const orch = useOrchestrator(t);
  switchable(orch, 'job', { maxConsecutiveFailures: 1 });
  await orch.start();
  const { url } = await serve(t, orch);

  const off = await call(url, 'POST', 'workers/job/disable');
  assert.equal(off.status, 200);
  assert.deepEqual(off.json, { name: 'job', enabled: false, breaker: 'closed' });
  assert.equal(orch.getWorker('job')?.isEnabled, false);

  const on = await call(url, 'POST', 'workers/job/enable');
  assert.deepEqual(on.json, { name: 'job', enabled: true, breaker: 'closed' });
  assert.equal(orch.getWorker('job')?.isEnabled, true);

  // enable also closes an open breaker.
  await assert.rejects(orch.run('job'));
  assert.equal(orch.getStatus().workerStates.job?.breaker, 'open');
  assert.deepEqual((await call(url, 'POST', 'workers/job/enable')).json, {
    name: 'job',
    enabled: true,
    breaker: 'closed',
  });

  assertError(await call(url, 'POST', 'workers/nope/enable'), 404, 'ERR_UNKNOWN_WORKER');
  assertError(await call(url, 'POST', 'workers/nope/disable'), 404, 'ERR_UNKNOWN_WORKER');
  // Names are percent-decoded.
  orch.registerWorker('a b/c', () => 1, { executionMode: TRIGGERED });
  assert.equal((await call(url, 'POST', `workers/${encodeURIComponent('a b/c')}/disable`)).status, 200);
  assert.equal(orch.getWorker('a b/c')?.isEnabled, false);
});

test('POST /dead-letters/:id/replay waits for the outcome; DELETE /dead-letters/:id', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  await orch.start();
  await assert.rejects(orch.run('job', { n: 1 }));
  await assert.rejects(orch.run('job', { n: 2 }));
  const [first, second] = orch.deadLetters.list() as [DeadLetter, DeadLetter];
  const { url } = await serve(t, orch);

  // Still failing: 422 with the run's reason; the entry stays.
  const failed = await call(url, 'POST', `dead-letters/${first.id}/replay`);
  assertError(failed, 422, 'ERR_RUN_FAILED');
  assert.equal(failed.json.error.reason, 'error');
  assert.match(failed.json.error.message, /job failed/);
  assert.equal(orch.deadLetters.list().length, 2);

  state.fail = false;
  const replayed = await call(url, 'POST', `dead-letters/${first.id}/replay`);
  assert.equal(replayed.status, 200);
  assert.deepEqual(replayed.json, { result: { echoed: { n: 1 } } });
  assert.deepEqual(
    orch.deadLetters.list().map((d) => d.id),
    [second.id],
  );
  assertError(await call(url, 'POST', `dead-letters/${first.id}/replay`), 404, 'ERR_UNKNOWN_DEAD_LETTER');

  const removed = await call(url, 'DELETE', `dead-letters/${second.id}`);
  assert.equal(removed.status, 200);
  assert.deepEqual(removed.json, { removed: true, id: second.id });
  assert.deepEqual(orch.deadLetters.list(), []);
  assertError(await call(url, 'DELETE', `dead-letters/${second.id}`), 404, 'ERR_UNKNOWN_DEAD_LETTER');
});

// ------------------------------------------------------------------ bodies, routes

test('bodies: oversized 413 (declared or streamed), malformed 400, not JSON 415', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  await orch.start();
  const { url } = await serve(t, orch, { maxBodyBytes: 64 * 1024 });

  const big = JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) });
  assertError(await call(url, 'POST', 'workers/job/trigger', { body: big }), 413, 'ERR_PAYLOAD_TOO_LARGE');

  // Streamed (chunked, no content-length): counted while read.
  const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 32) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const res = await fetch(new URL('workers/job/trigger', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ERR_PAYLOAD_TOO_LARGE');

  for (const body of ['{', '{"a":}', 'undefined', "{'a':1}"]) {
    assertError(await call(url, 'POST', 'workers/job/trigger', { body }), 400, 'ERR_BAD_REQUEST');
  }
  assertError(
    await call(url, 'POST', 'workers/job/trigger', {
      body: 'a=1',
      headers: { 'content-type': 'text/plain' },
    }),
    415,
    'ERR_UNSUPPORTED_MEDIA_TYPE',
  );
  assert.deepEqual(state.payloads, [], 'no refused request ran the worker');
  // Just under the limit is fine.
  const fits = JSON.stringify('y'.repeat(60 * 1024));
  assert.equal((await call(url, 'POST', 'workers/job/trigger', { body: fits })).status, 202);
  // A JSON content type with parameters or a +json suffix is JSON.
  const typed = await call(url, 'POST', 'workers/job/trigger', {
    body: '3',
    headers: { 'content-type': 'application/vnd.corral+json; charset=utf-8' },
  });
  assert.equal(typed.status, 202);
  await waitFor(() => state.payloads.length === 2);
});

test('routes: unknown 404, wrong method 405 with Allow, bad encoding 400', async (t) => {
  const orch = useOrchestrator(t);
  const { url } = await serve(t, orch);
  assertError(await call(url, 'GET', 'nope', { token: null }), 404, 'ERR_NOT_FOUND');
  assertError(await call(url, 'GET', 'workers/job', { token: null }), 404, 'ERR_NOT_FOUND');
  assertError(await call(url, 'POST', 'workers/a/b/trigger'), 404, 'ERR_NOT_FOUND');

  const post = await call(url, 'POST', 'status');
  assertError(post, 405, 'ERR_METHOD_NOT_ALLOWED');
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const get = await call(url, 'GET', 'workers/job/trigger', { token: null });
  assertError(get, 405, 'ERR_METHOD_NOT_ALLOWED');
  assert.equal(get.headers.get('allow'), 'POST');
  assertError(await call(url, 'PUT', 'dead-letters/x'), 405, 'ERR_METHOD_NOT_ALLOWED');
  assertError(await call(url, 'POST', 'workers/%E0%A4%A/enable'), 400, 'ERR_BAD_REQUEST');

  const head = await fetch(new URL('status', url), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

// ------------------------------------------------------------------ embedding, options, close

test('createHttpHandler works mounted under a base path in a plain node:http server', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  state.fail = false;
  await orch.start();
  const handler = createHttpHandler(orch, { token: TOKEN, basePath: '/ops/corral/' });
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/ops/corral')) {
      handler(req, res);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('host app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    handler.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/corral/`;

  assert.equal((await call(base, 'GET', 'status', { token: null })).json.state, 'running');
  assert.equal((await call(base, 'GET', 'healthz', { token: null })).status, 200);
  assert.equal((await call(base, 'GET', '/elsewhere', { token: null })).text, 'host app');
  assert.equal((await call(base, 'GET', '', { token: null })).text, dashboardFile('index.html'));
  assert.equal(
    (await call(base, 'GET', 'dashboard.js', { token: null })).text,
    dashboardFile('dashboard.js'),
  );
  const redirect = await fetch(base.slice(0, -1), { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), '/ops/corral/');
  assert.equal((await call(base, 'POST', 'workers/job/trigger', { body: '"hi"' })).status, 202);
  await waitFor(() => state.payloads.length === 1);
  assert.deepEqual(state.payloads, ['hi']);
  assertError(await call(base, 'GET', '/ops/corralx/status', { token: null }), 404, 'ERR_NOT_FOUND');
  assert.match((await call(base, 'GET', 'metrics', { token: null })).text, /corral_runs_total\{worker="job"/);

  handler.close();
  assertError(await call(base, 'GET', 'status', { token: null }), 503, 'ERR_HANDLER_CLOSED');
});

test('a body already read and parsed by a framework (Express body parsers) is used', async (t) => {
  const orch = useOrchestrator(t);
  const state = switchable(orch, 'job');
  state.fail = false;
  await orch.start();
  const handler = createHttpHandler(orch, { token: TOKEN });
  // What express.json() does: read the stream, then set req.body.
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      Object.assign(req, { body: text === '' ? undefined : JSON.parse(text) });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    handler.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  assert.equal(
    (await call(base, 'POST', 'workers/job/trigger', { body: '{"via":"framework"}' })).status,
    202,
  );
  assert.equal((await call(base, 'POST', 'workers/job/trigger')).status, 202);
  await waitFor(() => state.payloads.length === 2);
  assert.deepEqual(state.payloads, [{ via: 'framework' }, undefined]);
});

test('options are validated at once', async (t) => {
  const orch = useOrchestrator(t);
  assert.throws(() => createHttpHandler(orch, { token: '' }), isCode('ERR_INVALID_OPTION', 'token'));
  assert.throws(
    () => createHttpHandler(orch, { basePath: 'corral' }),
    isCode('ERR_INVALID_OPTION', 'basePath'),
  );
  assert.throws(
    () => createHttpHandler(orch, { maxBodyBytes: -1 }),
    isCode('ERR_INVALID_OPTION', 'maxBodyBytes'),
  );
  // A port in use is refused, and leaves nothing behind.
  const first = await serve(t, orch);
  const port = Number(new URL(first.url).port);
  await assert.rejects(orch.listen({ port }), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE');
  assert.equal(orch.listenerCount('worker:start'), 1, 'only the first server listens to events');
});

test('close() ends event streams, resolves once the server is closed, and leaves no handle', async (t) => {
  const orch = useOrchestrator(t);
  await orch.start();
  await sleep(10);
  const baseline = process.getActiveResourcesInfo();
  const server = await orch.listen({ token: TOKEN });
  const stream = await openEvents(server.url);
  await waitFor(() => stream.frames.length > 0);
  // A keep-alive connection too.
  assert.equal((await call(server.url, 'GET', 'status', { token: null })).status, 200);
  assert.ok(orch.listenerCount('worker:start') > 0);

  const closeStarted = performance.now();
  await server.close();
  await server.close(); // idempotent
  // Well under the 2 s after which close() cuts connections still busy: nothing was waited for.
  assert.ok(performance.now() - closeStarted < 1000, 'close() was prompt');
  await waitFor(() => stream.ended, 2000, 'the event stream ended by the server');
  await stream.pump;
  assert.equal(orch.listenerCount('worker:start'), 0, 'metrics and event listeners removed');
  await assert.rejects(fetch(new URL('status', server.url)));
  await waitFor(
    () => {
      const now = process.getActiveResourcesInfo();
      return now.length === baseline.length ? now : undefined;
    },
    3000,
    `active resources back to ${JSON.stringify(baseline)}, have ${JSON.stringify(process.getActiveResourcesInfo())}`,
  );
});

test('close() lets a request in flight finish before the server closes', async (t) => {
  const orch = useOrchestrator(t);
  const g = gate();
  let calls = 0;
  orch.registerWorker(
    'job',
    async () => {
      if (++calls === 1) throw new Error('first call fails');
      await g.opened;
      return 'done';
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  await orch.start();
  await assert.rejects(orch.run('job'));
  const [entry] = orch.deadLetters.list() as [DeadLetter];
  const server = await orch.listen({ token: TOKEN });

  const replay = call(server.url, 'POST', `dead-letters/${entry.id}/replay`);
  await waitFor(() => orch.getStatus().workerStates.job?.running, 5000, 'the replay running');
  let closed = false;
  const closing = server.close().then(() => {
    closed = true;
  });
  await sleep(100);
  assert.equal(closed, false, 'close() waits for the reply in flight');
  g.open();
  const reply = await replay;
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, { result: 'done' });
  await closing;
});
