// `npm run demo:cluster`: a cluster of three hosts on this machine. Starts a redis-server of its own
// (or uses CORRAL_REDIS), starts three `corral run examples/cluster.config.mjs`, sends runs from a
// fourth orchestrator that executes nothing, and prints where each run went; then stops one host and
// shows the others taking its share. Everything it started is stopped at the end.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/cli/config.ts';
import { WorkerOrchestrator } from '../src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const configFile = fileURLToPath(new URL('../examples/cluster.config.mjs', import.meta.url));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function startRedis(): Promise<string> {
  if (process.env.CORRAL_REDIS !== undefined) return process.env.CORRAL_REDIS;
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.error(
      'demo:cluster needs Redis: install redis-server (Debian/Ubuntu: apt-get install redis-server;\n' +
        'macOS: brew install redis) or point CORRAL_REDIS at one (CORRAL_REDIS=redis://host:6379).',
    );
    process.exit(1);
  }
  const port = await freePort();
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(redis);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    redis.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    redis.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  console.log(`redis-server on 127.0.0.1:${port} (persistence off; stopped at the end)`);
  return `redis://127.0.0.1:${port}`;
}

function startHost(id: string, redis: string): ChildProcess {
  const host = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'run', configFile, '--log-level', 'warn'],
    {
      cwd: root,
      env: { ...process.env, CORRAL_REDIS: redis, CORRAL_HOST_ID: id },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  host.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().trim().split('\n')) console.log(`  [${id}] ${line}`);
  });
  children.push(host);
  return host;
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const ids = ['host-1', 'host-2', 'host-3'];
  console.log(`starting ${ids.join(', ')}: corral run examples/cluster.config.mjs`);
  const hosts = new Map(ids.map((id) => [id, startHost(id, redis)]));

  // The caller: the same config, executing nothing.
  const config = await loadConfig(configFile);
  const caller = new WorkerOrchestrator({
    ...config.orchestrator,
    cluster: {
      ...(config.orchestrator.cluster as NonNullable<typeof config.orchestrator.cluster>),
      redis,
      hostId: 'caller',
      execute: false,
    },
    logger: false,
  });
  for (const worker of config.workers) caller.registerWorker(worker.name, worker.module, worker.options);
  await caller.start();
  const hostsUp = async (n: number) => {
    for (let i = 0; i < 200; i++) {
      if ((caller.getStatus().cluster?.hosts.filter((h) => h.execute).length ?? 0) === n) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await hostsUp(3);
  console.log(
    `cluster "${caller.getStatus().cluster?.name}": ${caller
      .getStatus()
      .cluster?.hosts.map((h) => h.id)
      .join(', ')}`,
  );

  const send = async (from: number, count: number) => {
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        caller.run('where', { ms: 300 }).then((r) => ({ n: from + i, r })),
      ),
    );
    for (const { n, r } of results) {
      const { host, pid } = r as { host: string; pid: number };
      console.log(`run ${String(n).padStart(2)} -> ${host} (worker pid ${pid})`);
    }
  };
  await send(1, 12);

  console.log('stopping host-2 (SIGTERM): its share goes to the others');
  const leaving = hosts.get('host-2') as ChildProcess;
  leaving.kill('SIGTERM');
  await new Promise((resolve) => leaving.once('exit', resolve));
  await hostsUp(2);
  await send(13, 8);

  const tick = caller.getStatus().workerStates.tick;
  console.log(
    `scheduled "tick" (every 2 s, once in the cluster): ${tick?.totals.runs ?? 0} runs so far, next at ${tick?.nextRunAt}`,
  );
  await caller.stop();
}

async function cleanUp(): Promise<void> {
  for (const child of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => cleanUp());
