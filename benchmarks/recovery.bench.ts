// Recovery: a worker's sandbox crashes (process.exit(1) mid-run) — how soon is that worker's next run
// served? One triggered worker, concurrency 1, maxRetries 0, thread and process isolation, warm sandbox
// before each crash. Per round: run({ crash: true }) rejects (reason 'crash') at t0; the rejection
// handler at once asks run({ crash: false }) (a no-op), which resolves at t1. recovery = t1 − t0, split
// into t0 → worker:start of the next run (dispatch) and worker:start → resolved (new sandbox + run).
// Also: crash → rejection (the fixture stamps process.hrtime.bigint(), CLOCK_MONOTONIC, just before
// process.exit). Baselines, same rounds: raw respawn = new Worker(file) → first message answered, and
// fork(file) → first IPC reply (benchmarks/fixtures/raw-echo.mjs, same 'advanced' serialization as corral).
// Every sandbox and baseline starts with execArgv [] (not the runner's `--import tsx`).
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkerExecutionMode, WorkerOrchestrator } from 'corral';
import { header, save, table } from './lib/report.ts';
import { interleave, type Variant } from './lib/rounds.ts';
import type { Summary } from './lib/stats.ts';

// 100 rounds (~20 s): a p99 of 30 would only be the maximum.
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const TARGET_SLACK_MS = 10;
const crashFile = fileURLToPath(new URL('./fixtures/crash.mjs', import.meta.url));
const echoFile = fileURLToPath(new URL('./fixtures/raw-echo.mjs', import.meta.url));
const ms = (ns: bigint) => Number(ns) / 1e6;
let fileSeq = 0;

/** Nearest-rank percentile of a summary's samples (p99 of 30 samples is the maximum). */
function pct(summary: Summary, p: number): number {
  const sorted = [...summary.rounds].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

type Recovery = { recoveryMs: number; dispatchMs: number; newSandboxRunMs: number; detectMs: number };

function corral(isolation: 'thread' | 'process'): Variant<Recovery> {
  const orch = new WorkerOrchestrator({ logger: false });
  let startNs: bigint | undefined;
  return {
    name: `corral ${isolation}`,
    async setup() {
      orch.registerWorker('job', crashFile, {
        executionMode: WorkerExecutionMode.TRIGGERED,
        isolation,
        maxRetries: 0,
        maxConsecutiveFailures: 1_000_000, // half the runs crash by design: keep the breaker out of it
        execArgv: [],
      });
      orch.on('worker:start', () => {
        startNs = process.hrtime.bigint();
      });
      await orch.start();
      await orch.run('job', { crash: false }); // a warm sandbox before the first crash
    },
    async round() {
      const stampFile = join(tmpdir(), `corral-recovery-${process.pid}-${++fileSeq}`);
      let t0 = 0n;
      let next: Promise<unknown> | undefined;
      await orch.run('job', { crash: true, stampFile }).then(
        () => {
          throw new Error(`corral ${isolation}: the crash run succeeded`);
        },
        (error: { reason?: string }) => {
          t0 = process.hrtime.bigint();
          startNs = undefined;
          next = orch.run('job', { crash: false });
          if (error.reason !== 'crash')
            throw new Error(`corral ${isolation}: reason ${error.reason}, not crash`);
        },
      );
      await next;
      const t1 = process.hrtime.bigint();
      const crashedAt = BigInt(readFileSync(stampFile, 'utf8'));
      rmSync(stampFile, { force: true });
      if (startNs === undefined) throw new Error('no worker:start for the next run');
      return {
        recoveryMs: ms(t1 - t0),
        dispatchMs: ms(startNs - t0),
        newSandboxRunMs: ms(t1 - startNs),
        detectMs: ms(t0 - crashedAt),
      };
    },
    async teardown() {
      await orch.stop();
    },
  };
}

type Respawn = { respawnMs: number };

function rawThread(): Variant<Respawn> {
  return {
    name: 'raw new Worker → first reply',
    async round() {
      const t0 = process.hrtime.bigint();
      const worker = new Worker(echoFile, { execArgv: [] });
      worker.postMessage('ping');
      await once(worker, 'message');
      const t1 = process.hrtime.bigint();
      await worker.terminate();
      return { respawnMs: ms(t1 - t0) };
    },
  };
}

function rawFork(): Variant<Respawn> {
  return {
    name: 'raw fork → first IPC reply',
    async round() {
      const t0 = process.hrtime.bigint();
      const child: ChildProcess = fork(echoFile, [], {
        execArgv: [],
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      });
      child.send('ping');
      await once(child, 'message');
      const t1 = process.hrtime.bigint();
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      return { respawnMs: ms(t1 - t0) };
    },
  };
}

header('recovery: crash → the next run served', { runs: RUNS, maxRetries: 0, concurrency: 1 });
const pairs = [
  [corral('thread'), rawThread()],
  [corral('process'), rawFork()],
] as const;
const variants = pairs.flat() as unknown as Variant<Recovery | Respawn>[];
const out = await interleave<Recovery | Respawn>(variants, RUNS);

const f = (n: number) => n.toFixed(1);
const rows: string[][] = [];
const verdicts: string[][] = [];
const results: Record<string, unknown> = {};
for (const [a, b] of pairs) {
  const r = out.get(a.name) as Record<keyof Recovery, Summary> | undefined;
  const base = out.get(b.name) as Record<keyof Respawn, Summary> | undefined;
  if (r === undefined || base === undefined) continue;
  results[a.name] = r;
  results[b.name] = base;
  rows.push([
    a.name,
    String(r.recoveryMs.rounds.length),
    f(r.recoveryMs.median),
    f(pct(r.recoveryMs, 99)),
    `${f(r.dispatchMs.median)} / ${f(pct(r.dispatchMs, 99))}`,
    `${f(r.newSandboxRunMs.median)} / ${f(pct(r.newSandboxRunMs, 99))}`,
    `${f(r.detectMs.median)} / ${f(pct(r.detectMs, 99))}`,
  ]);
  rows.push([
    b.name,
    String(base.respawnMs.rounds.length),
    f(base.respawnMs.median),
    f(pct(base.respawnMs, 99)),
    '',
    '',
    '',
  ]);
  for (const [label, p] of [
    ['p50', 50],
    ['p99', 99],
  ] as const) {
    const at = (summary: Summary) => (p === 50 ? summary.median : pct(summary, p));
    const got = at(r.recoveryMs);
    const limit = at(base.respawnMs) + TARGET_SLACK_MS;
    verdicts.push([
      `${a.name}: recovery ${label} ≤ raw respawn ${label} + ${TARGET_SLACK_MS} ms`,
      `${f(got)} ms`,
      `≤ ${f(limit)} ms`,
      got <= limit ? 'met' : `missed by ${f(got - limit)} ms`,
    ]);
  }
}
console.log(
  `ms; p50 = median, p99 = nearest rank of ${RUNS} rounds; "next start" comes after the synchronous fork / new Worker of the replacement sandbox\n`,
);
table(
  [
    'variant',
    'rounds',
    'recovery / respawn p50',
    'p99',
    'rejection → next start p50 / p99',
    'next start → resolved p50 / p99',
    'crash → rejection p50 / p99',
  ],
  rows,
);
table(['target', 'measured', 'target', 'verdict'], verdicts);
save('recovery', { options: { runs: RUNS, slackMs: TARGET_SLACK_MS }, results, verdicts });
