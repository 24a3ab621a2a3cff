// Every code example of the README runs as written (README: Quick start and the sections it links).
// Each JavaScript block in the README is preceded by `<!-- example: examples/<file> -->` and is an exact
// copy of that file, which this suite runs against the built package (`import ... from 'corral'`
// resolves to dist/ from inside the package); a README block without its file fails here.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedis } from '../cluster/harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

interface Block {
  lang: string;
  code: string;
  example: string | undefined;
  line: number;
}

/** The fenced code blocks of the README, with the example file named just before each. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(`${root}README.md`, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] as string);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] as string);
    let before = start - 1;
    while (before >= 0 && (lines[before] as string).trim() === '') before--;
    const marker = /^<!-- example: (\S+) -->$/.exec((lines[before] ?? '').trim());
    blocks.push({ lang: open[1] ?? '', code: body.join('\n'), example: marker?.[1], line: start + 1 });
  }
  return blocks;
}

const code = readmeBlocks().filter((b) => ['js', 'ts', 'mjs', 'javascript', 'typescript'].includes(b.lang));

describe('README examples', () => {
  it('every JavaScript block names its example file and is an exact copy of it', () => {
    assert.ok(code.length >= 5, 'the README shows its examples');
    for (const block of code) {
      assert.ok(
        block.example !== undefined,
        `README line ${block.line}: no <!-- example: ... --> before the block`,
      );
      const file = readFileSync(`${root}${block.example}`, 'utf8').trimEnd();
      assert.equal(block.code.trimEnd(), file, `README line ${block.line} differs from ${block.example}`);
    }
  });

  const examples = [...new Set(code.map((b) => b.example).filter((e) => e !== undefined))];
  for (const example of examples) {
    it(`${example} runs as written`, { timeout: 60_000 }, async (t) => {
      if (example.endsWith('.config.mjs')) {
        const { stdout } = await run(process.execPath, ['dist/cli/main.js', 'check', example], { cwd: root });
        assert.match(stdout, /is valid/);
      } else if (example === 'examples/quick-start.mjs') {
        await runUntilSigint(example, /run\(\) resolved:/);
      } else if (example === 'examples/cluster.mjs') {
        // A Redis of its own (Debian's redis-server, as the cluster suites use).
        const redis = await startRedis(t);
        await run(process.execPath, [example], {
          cwd: root,
          timeout: 50_000,
          env: { ...process.env, CORRAL_REDIS: redis.url },
        });
      } else {
        await run(process.execPath, [example], { cwd: root, timeout: 50_000 });
      }
    });
  }
});

/** Runs a long-lived example until it prints `ready`, then Ctrl-C: it must stop gracefully (exit 0). */
async function runUntilSigint(example: string, ready: RegExp): Promise<void> {
  const child = spawn(process.execPath, [example], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${example} never printed ${ready}:\n${output}`)),
      45_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 0, output);
  assert.match(output, /stopped:/);
}
