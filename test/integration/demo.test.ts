// `npm start` must work as the README says: the demo runs its example workers (each of workers/),
// stops gracefully, prints its summary, exits 0 on its own and leaves no process behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Pids of live processes whose command line mentions corral's child runtime or its reaper. */
function sandboxPidsOf(hostPid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || Number(fields[1]) !== hostPid) continue;
      out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const store = join(mkdtempSync(join(tmpdir(), 'corral-demo-')), 'demo.db');

it('npm start runs the demo, exits 0 and leaves nothing running', { timeout: 90_000 }, async () => {
  const demo = spawn(process.execPath, ['--import', 'tsx', 'workers/demo.ts'], {
    cwd: root,
    env: { ...process.env, CORRAL_DEMO_SECONDS: '7', CORRAL_DEMO_STORE: store },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  demo.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  demo.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const seen = new Set<number>();
  const watch = setInterval(() => {
    if (demo.pid !== undefined) for (const pid of sandboxPidsOf(demo.pid)) seen.add(pid);
  }, 100);
  const code = await new Promise<number | null>((resolve) => demo.on('exit', (c) => resolve(c)));
  clearInterval(watch);

  assert.equal(code, 0, `demo exited with ${code}; stderr:\n${stderr}`);
  assert.doesNotMatch(stderr, /still busy/, 'the event loop drained by itself after stop()');
  assert.match(stdout, /summary after/);
  assert.match(
    stdout,
    /dashboard: http:\/\/127\.0\.0\.1:\d+/,
    'the demo serves the dashboard and prints its URL',
  );
  assert.equal(stdout.match(/dashboard: http/g)?.length, 1, 'the dashboard line is printed once');
  assert.match(stdout, /CORRAL_DEMO_SECONDS=120 npm start/, 'the demo says how to run it longer');
  // One line per worker saying what it shows, before the first table.
  const intro = stdout.slice(0, stdout.indexOf('corral running'));
  for (const [worker, what] of [
    ['primes', /heartbeats/],
    ['hash', /fresh child every 5 runs/],
    ['flaky-api', /dead letter/],
    ['hang', /killed by its 1 s timeout/],
    ['leak', /memoryLimitMb/],
    ['fetch', /pipeline step 1/],
    ['process', /triggered by each successful fetch/],
    ['cleanup', /blocks "process"/],
  ] as const) {
    assert.match(
      intro,
      new RegExp(`^  ${worker} +.*${what.source}`, 'm'),
      `${worker} is explained at the start`,
    );
  }
  assert.doesNotMatch(stdout, /completed:/, 'the stop summary does not call every finished run completed');
  assert.match(stdout, /finished during the grace period: \d+/);
  for (const worker of ['primes', 'hash', 'flaky-api', 'hang', 'leak', 'fetch', 'process', 'cleanup']) {
    assert.match(stdout, new RegExp(`\\b${worker}\\b`), `${worker} appears in the table`);
  }
  // The pipeline ran (process is triggered by fetch) and the hanging worker was killed by its timeout.
  assert.match(stdout, /OK {5}process: aggregated/);
  assert.match(stdout, /hang \(attempt 1, timeout/);
  assert.ok(seen.size > 0, 'the demo started child processes');
  const survivors = [...seen].filter((pid) => {
    try {
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return state.slice(state.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
  assert.deepEqual(survivors, [], 'no child of the demo outlives it');
});

it('a second demo run shows the state the first one left in its store file', {
  timeout: 90_000,
}, async () => {
  const demo = spawn(process.execPath, ['--import', 'tsx', 'workers/demo.ts'], {
    cwd: root,
    env: { ...process.env, CORRAL_DEMO_SECONDS: '3', CORRAL_DEMO_STORE: store },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  demo.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => demo.on('exit', (c) => resolve(c)));
  assert.equal(code, 0);
  assert.match(stdout, /state carried over from .*: \d+ earlier runs/);
});
