/**
 * The cluster suites' harness: a redis-server of their own on a free loopback port (persistence off),
 * host processes (test/fixtures/cluster/host.mjs) driven over IPC, and clean-up of both by pid.
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type OrchestratorOptions, WorkerOrchestrator } from '../../src/index.ts';

const stacks = new WeakMap<TestContext, (() => Promise<void>)[]>();

/** Clean-up run after the test, last registered first (hosts stop before their redis-server). */
export function defer(t: TestContext, fn: () => Promise<void>): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const created: (() => Promise<void>)[] = [];
    stack = created;
    stacks.set(t, created);
    t.after(async () => {
      while (created.length > 0) {
        const t0 = Date.now();
        const fn = created.pop() as () => Promise<void>;
        await fn();
        if (process.env.CLUSTER_DEBUG) console.log('cleanup', Date.now() - t0, fn.toString().slice(0, 60));
      }
    });
  }
  stack.push(fn);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL now. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(t: TestContext): Promise<RedisServer> {
  return launchRedis(t, await freePort(), []);
}

/** A redis-server on `port` (persistence off) with `extra` arguments, SIGKILLed after the test. */
async function launchRedis(t: TestContext, port: number, extra: string[]): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  const launch = async () => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
    });
    proc.removeAllListeners('exit');
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  await launch();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    stop: kill,
  };
  defer(t, () => server.stop());
  return server;
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A Redis Cluster of three masters on loopback (cluster mode on, persistence off, its node files in a
 * temporary directory), slots assigned by `redis-cli --cluster create`; every node stopped after the test.
 */
export async function startRedisCluster(t: TestContext): Promise<RedisServer[]> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-redis-cluster-'));
  defer(t, async () => rmSync(dir, { recursive: true, force: true }));
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort();
    nodes.push(
      await launchRedis(t, port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--dir',
        dir,
      ]),
    );
  }
  const create = spawnSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (create.status !== 0)
    throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = nodes.map(
      (n) => spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout,
    );
    if (states.every((info) => info.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error(`the Redis Cluster did not become ok: ${states.join('\n')}`);
    await sleep(200);
  }
  return nodes;
}

/** An orchestrator in this process, stopped after the test. */
export function orchestrator(t: TestContext, options: OrchestratorOptions): WorkerOrchestrator {
  const orch = new WorkerOrchestrator({ logger: false, enableHealthChecks: false, ...options });
  defer(t, async () => {
    await orch.stop();
  });
  return orch;
}

/** One host process (test/fixtures/cluster/host.mjs), and what it reported. */
export interface Host {
  readonly id: string;
  readonly child: ChildProcess;
  readonly events: HostEvent[];
  request<T = unknown>(message: Record<string, unknown>): Promise<T>;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL, and waits for it to exit. */
  kill(): Promise<void>;
  exited: Promise<void>;
}

export interface HostEvent {
  event: 'start' | 'success' | 'failure';
  host: string;
  runId: string;
  attempt: number;
  reason?: string;
  at: number;
}

export interface HostConfig {
  redis: string;
  hostId: string;
  lockMs?: number;
  execute?: boolean;
  maxConcurrentWorkers?: number;
  shutdownTimeoutMs?: number;
  /** Worker name → options; each runs test/fixtures/cluster/work.mjs. */
  workers: Record<string, Record<string, unknown>>;
}

const hostScript = fileURLToPath(new URL('../fixtures/cluster/host.mjs', import.meta.url));

export async function startHost(t: TestContext, config: HostConfig): Promise<Host> {
  const child = fork(hostScript, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: HostEvent[] = [];
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let ready: () => void = () => undefined;
  let failed: (e: Error) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (message: Record<string, unknown>) => {
    if (message.type === 'ready') ready();
    else if (message.type === 'start-failed') failed(new Error(String(message.error)));
    else if (message.type === 'event') events.push(message as unknown as HostEvent);
    else if (message.type === 'reply') {
      const pending = waiting.get(message.id as number);
      waiting.delete(message.id as number);
      if (message.error !== undefined)
        pending?.reject(Object.assign(new Error(String(message.error)), message.details));
      else pending?.resolve(message.value);
    }
  });
  void exited.then(() => {
    for (const pending of waiting.values()) pending.reject(new Error(`host ${config.hostId} exited`));
    waiting.clear();
    failed(new Error(`host ${config.hostId} exited before it was ready`));
  });
  const host: Host = {
    id: config.hostId,
    child,
    events,
    exited,
    request(message) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...message, id });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  defer(t, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = new AbortController();
      const done = await Promise.race([
        exited.then(() => true),
        sleep(15_000, false, { signal: timer.signal }).catch(() => false),
      ]);
      timer.abort();
      if (!done) await host.kill();
    }
  });
  await started;
  return host;
}
