// The `corral` CLI end to end, with real processes: `corral run` on a config in a temp folder (HTTP on
// 127.0.0.1, port 0), the client commands against it, the graceful stop on SIGTERM, the forced exit on
// a second SIGINT, and config errors (exit 2). The CLI runs from source (node --import tsx), so no
// build is needed; every process started here is killed by pid if a test leaves it behind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, corral, describeResult, root } from '../cli-helpers.ts';
import { childrenOf, killLeftover, pidAlive, waitFor } from '../helpers.ts';

const TOKEN = 'test-token';

/** A `corral run` process: its output so far, its URL, and every descendant seen while it ran. */
class RunningCorral {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly descendants = new Set<number>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #watch: NodeJS.Timeout;

  constructor(config: string) {
    this.child = spawn(process.execPath, [...CLI, 'run', config], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    this.#watch = setInterval(() => {
      if (this.child.pid !== undefined && this.child.exitCode === null) {
        for (const pid of childrenOf(this.child.pid)) this.descendants.add(pid);
      }
    }, 50);
    void this.exited.then(() => clearInterval(this.#watch));
  }

  /** The URL printed as `corral: listening on <url>`. */
  async url(): Promise<string> {
    const match = await waitFor(
      () => /^corral: listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(this.stdout),
      20_000,
      `the listening line (stdout: ${this.stdout}, stderr: ${this.stderr})`,
      50,
    );
    return match[1] as string;
  }

  /** Cleanup: SIGKILL the CLI and whatever it left, by pid. */
  kill(): void {
    clearInterval(this.#watch);
    if (this.child.pid !== undefined) killLeftover(this.child.pid);
    for (const pid of this.descendants) killLeftover(pid);
  }
}

interface StatusJson {
  state: string;
  workers: number;
  workerStates: Record<
    string,
    { enabled: boolean; runningCount: number; totals: { runs: number; succeeded: number; failed: number } }
  >;
}

interface DeadLetterJson {
  id: string;
  name: string;
  payload: unknown;
  reason: string;
  attempts: number;
}

async function statusOf(url: string): Promise<StatusJson> {
  const r = await corral(['status', '--json', '--url', url]);
  assert.equal(r.code, 0, describeResult(r));
  return JSON.parse(r.stdout) as StatusJson;
}

/** Status straight from the API (fast polling; the CLI itself is checked elsewhere). */
async function fetchStatus(url: string): Promise<StatusJson> {
  return (await (await fetch(`${url}/status`)).json()) as StatusJson;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const projects: string[] = [];
after(() => {
  for (const dir of projects) rmSync(dir, { recursive: true, force: true });
});

/** A temp folder with a config and its worker modules (relative paths), removed at the end. */
function writeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  projects.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const WORKERS = {
  'echo.mjs': 'export default (ctx) => ({ echoed: ctx.payload ?? null, pid: process.pid });\n',
  // Fails until the flag file exists, so a replay succeeds once the test creates it.
  'fragile.mjs': `import { existsSync } from 'node:fs';
export default (ctx) => {
  if (!existsSync(new URL('./fixed.flag', import.meta.url))) throw new Error('not fixed yet');
  return { fixed: true, payload: ctx.payload };
};
`,
  'slow.mjs': `export default async (ctx) => {
  await new Promise((resolve) => setTimeout(resolve, ctx.payload?.ms ?? 1500));
  return 'done';
};
`,
  // Writes its pid, then sleeps far longer than any test.
  'sleeper.mjs': `import { writeFileSync } from 'node:fs';
export default async () => {
  writeFileSync(new URL('./sleeper.pid', import.meta.url), String(process.pid));
  await new Promise((resolve) => setTimeout(resolve, 120_000));
};
`,
};

describe('corral run and the client commands', { timeout: 180_000 }, () => {
  let dir: string;
  let corralRun: RunningCorral;
  let url: string;

  before(async () => {
    dir = writeProject({
      ...WORKERS,
      'corral.config.mjs': `export default {
  orchestrator: { maxConcurrentWorkers: 4, shutdownTimeoutMs: 10000 },
  http: { host: '127.0.0.1', port: 0, token: '${TOKEN}' },
  workers: {
    echo: { module: './echo.mjs', executionMode: 'triggered', isolation: 'process' },
    fragile: { module: './fragile.mjs', executionMode: 'triggered', maxRetries: 0 },
    slow: { module: './slow.mjs', executionMode: 'triggered', isolation: 'process' },
    tick: { module: './echo.mjs', intervalSeconds: 3600, priority: 'low' },
  },
};
`,
    });
    corralRun = new RunningCorral(join(dir, 'corral.config.mjs'));
    url = await corralRun.url();
  });

  after(() => corralRun.kill());

  it('status shows every worker, as JSON and as the table', async () => {
    await waitFor(async () => (await fetchStatus(url)).workerStates.tick?.totals.succeeded === 1, 20_000);
    const status = await statusOf(url);
    assert.equal(status.state, 'running');
    assert.deepEqual(Object.keys(status.workerStates).sort(), ['echo', 'fragile', 'slow', 'tick']);

    const table = await corral(['status'], { CORRAL_URL: url });
    assert.equal(table.code, 0, describeResult(table));
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^corral running: 4 workers, /);
    assert.match(lines[1] ?? '', /^worker\s+mode\s+isolation\s+state/);
    assert.match(table.stdout, /^echo\s+triggered\s+process\s+idle\s+closed\s+0\/0/m);
    assert.match(table.stdout, /^tick\s+scheduled\s+thread\s+idle\s+closed\s+1\/0/m);
  });

  it('trigger runs a worker: its totals move', async () => {
    const r = await corral(['trigger', 'echo', '--payload', '{"n":1}', '--url', url, '--token', TOKEN]);
    assert.equal(r.code, 0, describeResult(r));
    assert.match(r.stdout, /triggered "echo"/);
    await waitFor(async () => (await fetchStatus(url)).workerStates.echo?.totals.succeeded === 1, 15_000);
    const status = await statusOf(url);
    assert.deepEqual(
      { runs: status.workerStates.echo?.totals.runs, failed: status.workerStates.echo?.totals.failed },
      { runs: 1, failed: 0 },
    );
  });

  it('client errors: token missing or wrong (4), unknown worker (5), bad payload (2), unreachable (3)', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const [missing, wrong, unknown, badPayload, unreachable] = await Promise.all([
      corral(['trigger', 'echo', '--url', url]),
      corral(['enable', 'echo', '--url', url], { CORRAL_TOKEN: 'not-the-token' }),
      corral(['trigger', 'nope', '--url', url, '--token', TOKEN]),
      corral(['trigger', 'echo', '--payload', '{oops', '--url', url, '--token', TOKEN]),
      corral(['status', '--url', down]),
    ]);
    assert.equal(missing.code, 4, describeResult(missing));
    assert.match(missing.stderr, /unauthorized.*--token or CORRAL_TOKEN/);
    assert.equal(wrong.code, 4, describeResult(wrong));
    assert.match(wrong.stderr, /forbidden/);
    assert.equal(unknown.code, 5, describeResult(unknown));
    assert.match(unknown.stderr, /no worker named "nope"/);
    assert.equal(badPayload.code, 2, describeResult(badPayload));
    assert.match(badPayload.stderr, /--payload must be JSON/);
    assert.equal(unreachable.code, 3, describeResult(unreachable));
    assert.match(unreachable.stderr, /cannot reach corral at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    // Nothing of that reached the worker.
    assert.equal((await fetchStatus(url)).workerStates.echo?.totals.runs, 1);
  });

  it('status --watch redraws every second until Ctrl-C (exit 0)', async (t) => {
    const watch = spawn(process.execPath, [...CLI, 'status', '--watch', '--url', url], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (watch.pid !== undefined) killLeftover(watch.pid);
    });
    let stdout = '';
    watch.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => watch.on('exit', (code) => resolve(code)));
    await waitFor(() => (stdout.match(/^corral running: /gm) ?? []).length >= 2, 15_000, 'two tables', 50);
    watch.kill('SIGINT');
    assert.equal(await exited, 0);
    // Not a terminal: tables are appended, never ANSI escapes.
    assert.ok(!stdout.includes('\u001b['), 'no ANSI escape in a pipe');
  });

  it('disable refuses triggers (exit 1) until enable', async () => {
    const env = { CORRAL_URL: url, CORRAL_TOKEN: TOKEN };
    const off = await corral(['disable', 'echo'], env);
    assert.equal(off.code, 0, describeResult(off));
    assert.equal((await statusOf(url)).workerStates.echo?.enabled, false);

    const refused = await corral(['trigger', 'echo'], env);
    assert.equal(refused.code, 1, describeResult(refused));
    assert.match(refused.stderr, /disabled/);

    const on = await corral(['enable', 'echo', '--json'], env);
    assert.equal(on.code, 0, describeResult(on));
    assert.deepEqual(JSON.parse(on.stdout), { name: 'echo', enabled: true, breaker: 'closed' });
  });

  it('a failed triggered run is a dead letter; replay fails (1) until fixed, then succeeds and removes it', async () => {
    const env = { CORRAL_URL: url, CORRAL_TOKEN: TOKEN };
    const r = await corral(['trigger', 'fragile', '--payload', '{"order":42}'], env);
    assert.equal(r.code, 0, describeResult(r));

    const listed = await waitFor(
      async () => {
        const list = await corral(['dead-letters', 'list', '--json', '--payload'], env);
        assert.equal(list.code, 0, describeResult(list));
        const entries = JSON.parse(list.stdout) as DeadLetterJson[];
        return entries.length > 0 ? entries : undefined;
      },
      30_000,
      'a dead letter',
      200,
    );
    assert.equal(listed.length, 1);
    const entry = listed[0] as DeadLetterJson;
    assert.equal(entry.name, 'fragile');
    assert.deepEqual(entry.payload, { order: 42 });
    assert.equal(entry.reason, 'error');

    // The table (default subcommand) shows it too.
    const table = await corral(['dead-letters'], env);
    assert.equal(table.code, 0, describeResult(table));
    assert.match(table.stdout, /^1 dead letter$/m);
    assert.ok(table.stdout.includes(entry.id), table.stdout);

    const again = await corral(['dead-letters', 'replay', entry.id], env);
    assert.equal(again.code, 1, describeResult(again));
    assert.match(again.stderr, /the run failed again: .*not fixed yet/);

    writeFileSync(join(dir, 'fixed.flag'), '');
    const replay = await corral(['dead-letters', 'replay', entry.id, '--json'], env);
    assert.equal(replay.code, 0, describeResult(replay));
    assert.deepEqual(JSON.parse(replay.stdout), { result: { fixed: true, payload: { order: 42 } } });

    const left = await corral(['dead-letters', 'list', '--json'], env);
    assert.deepEqual(JSON.parse(left.stdout), []);
    const gone = await corral(['dead-letters', 'remove', entry.id], env);
    assert.equal(gone.code, 5, describeResult(gone));
  });

  it('SIGTERM stops gracefully: the running job finishes, the StopReport is printed, exit 0, no child left', async () => {
    const r = await corral(['trigger', 'slow', '--payload', '{"ms":1500}', '--url', url, '--token', TOKEN]);
    assert.equal(r.code, 0, describeResult(r));
    await waitFor(async () => (await fetchStatus(url)).workerStates.slow?.runningCount === 1, 10_000);

    corralRun.child.kill('SIGTERM');
    const { code, signal } = await corralRun.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `stderr:\n${corralRun.stderr}`);
    assert.match(corralRun.stdout, /^corral: stopping gracefully \(SIGTERM\)/m);
    const line = /^corral: stopped (\{.*\})$/m.exec(corralRun.stdout);
    assert.ok(line, corralRun.stdout);
    const report = JSON.parse(line[1] as string) as Record<string, unknown>;
    assert.deepEqual(report, { completed: ['slow'], terminated: [], requeued: 0, dropped: 0 });

    assert.ok(corralRun.descendants.size > 0, 'the run started child processes');
    await waitFor(() => [...corralRun.descendants].every((pid) => !pidAlive(pid)), 10_000, 'no child left');

    const down = await corral(['status', '--url', url]);
    assert.equal(down.code, 3, describeResult(down));
  });
});

describe('corral run: a second SIGINT', { timeout: 60_000 }, () => {
  it('exits at once with 130, and the supervised child still dies', async (t) => {
    const dir = writeProject({
      'sleeper.mjs': WORKERS['sleeper.mjs'],
      'corral.config.json': JSON.stringify({
        orchestrator: { shutdownTimeoutMs: 60_000 },
        http: { port: 0, token: TOKEN },
        workers: { sleeper: { module: './sleeper.mjs', executionMode: 'TRIGGERED', isolation: 'process' } },
      }),
    });
    const run = new RunningCorral(join(dir, 'corral.config.json'));
    t.after(() => run.kill());
    const url = await run.url();
    const r = await corral(['trigger', 'sleeper', '--url', url, '--token', TOKEN]);
    assert.equal(r.code, 0, describeResult(r));
    const pidFile = join(dir, 'sleeper.pid');
    const sleeper = await waitFor(
      () => {
        try {
          return Number(readFileSync(pidFile, 'utf8')) || undefined;
        } catch {
          return undefined;
        }
      },
      10_000,
      'the sleeper pid',
      50,
    );

    run.child.kill('SIGINT');
    await waitFor(() => run.stdout.includes('stopping gracefully (SIGINT)'), 5000, 'the stopping line');
    assert.ok(pidAlive(sleeper), 'the job is still running during the graceful stop');
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    assert.equal(code, 130, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    assert.match(run.stderr, /SIGINT again: exiting without waiting/);
    // The library's reaper kills the child's process group when the host is gone.
    await waitFor(() => !pidAlive(sleeper), 10_000, 'the sleeper killed after the forced exit', 50);
  });
});

describe('corral run: config errors exit 2 before anything starts', { timeout: 60_000 }, () => {
  it('names the file, the worker and the key', async () => {
    const dir = writeProject({
      'echo.mjs': WORKERS['echo.mjs'],
      'corral.config.mjs': `export default {
  http: { port: 0, token: 't' },
  workers: {
    ok: { module: './echo.mjs', executionMode: 'triggered' },
    report: { module: './echo.mjs', timeoutSeconds: -1 },
  },
};
`,
    });
    const r = await corral(['run', join(dir, 'corral.config.mjs')]);
    assert.equal(r.code, 2, describeResult(r));
    assert.match(
      r.stderr,
      /corral\.config\.mjs: worker "report": timeoutSeconds must be a number > 0 \(or Infinity\), got -1/,
    );
    assert.doesNotMatch(r.stdout, /listening|started/);
  });

  it('reports every problem: unknown keys, a missing module, a bad graph, a missing workers', async () => {
    const dir = writeProject({
      'echo.mjs': WORKERS['echo.mjs'],
      'bad.json': JSON.stringify({
        orchestrator: { maxConcurrentWorkers: 0 },
        http: { port: 70000 },
        extra: true,
        workers: {
          a: { module: './missing.mjs' },
          b: { module: './echo.mjs', retries: 3 },
        },
      }),
      'cycle.json': JSON.stringify({
        workers: {
          a: { module: './echo.mjs', dependsOn: ['b'] },
          b: { module: './echo.mjs', dependsOn: ['a'] },
        },
      }),
      'empty.json': JSON.stringify({ orchestrator: {} }),
    });
    const [bad, cycle, empty] = await Promise.all([
      corral(['run', join(dir, 'bad.json')]),
      corral(['check', join(dir, 'cycle.json')]),
      corral(['run', join(dir, 'empty.json')]),
    ]);
    assert.equal(bad.code, 2, describeResult(bad));
    for (const expected of [
      /bad\.json: unknown top-level key "extra"/,
      /bad\.json: orchestrator: maxConcurrentWorkers must be an integer >= 1, got 0/,
      /bad\.json: http: port must be an integer from 0 to 65535/,
      /bad\.json: worker "a": module not found: .*missing\.mjs/,
      /bad\.json: worker "b": retries must be a known option/,
      /corral: the config has 5 problems; nothing was started/,
    ]) {
      assert.match(bad.stderr, expected);
    }

    assert.equal(cycle.code, 2, describeResult(cycle));
    assert.match(cycle.stderr, /cycle\.json: dependency cycle: a -> b -> a/);

    assert.equal(empty.code, 2, describeResult(empty));
    assert.match(empty.stderr, /empty\.json: workers is missing/);
  });
});
