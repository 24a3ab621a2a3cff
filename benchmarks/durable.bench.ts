// Durable state: the cost of the SQLite store on the hot path. Triggered runs (run(), 64 in flight) of
// a no-op job through the in-memory store and through a file store, interleaved rounds; inline (the
// orchestrator's own cost, where the store's share is largest) and thread. Targets: durable triggered
// throughput ≥ 0.7× the memory store's inline, ≥ 0.6× in threads.
// BENCH_BASELINE=<path to another build's dist/index.js> adds that build's two variants to the same
// interleaved rounds (before/after a change, from one run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as current from 'corral';
import { fmt, header, save, table } from './lib/report.ts';
import { drive, interleave, type Variant } from './lib/rounds.ts';

const IN_FLIGHT = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const noop = fileURLToPath(new URL('./fixtures/noop.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corral-durable-bench-'));
const baselinePath = process.env.BENCH_BASELINE;
const baseline: typeof current | undefined =
  baselinePath === undefined ? undefined : await import(baselinePath);

type Measure = { runsPerSec: number; cpuUsPerRun: number };

function variant(
  store: 'memory' | 'sqlite',
  isolation: 'inline' | 'thread',
  total: number,
  build: { lib: typeof current; label: string } = { lib: current, label: '' },
): Variant<Measure> {
  const { WorkerExecutionMode, WorkerOrchestrator } = build.lib;
  const orch = new WorkerOrchestrator({
    logger: false,
    maxConcurrentWorkers: IN_FLIGHT,
    store: store === 'memory' ? 'memory' : join(dir, `${isolation}${build.label}.db`),
  });
  return {
    name: `${isolation}, ${store} store${build.label}`,
    async setup() {
      orch.registerWorker('job', isolation === 'inline' ? (ctx) => ctx.payload : noop, {
        executionMode: WorkerExecutionMode.TRIGGERED,
        isolation,
        concurrency: isolation === 'inline' ? IN_FLIGHT : 2,
        maxRetries: 0,
        maxQueue: 10_000,
      });
      await orch.start();
    },
    async round() {
      const cpu0 = process.cpuUsage();
      const ms = await drive(total, IN_FLIGHT, (i) => orch.run('job', { i }));
      await orch.flush(); // the store's work is part of the cost
      const cpu = process.cpuUsage(cpu0);
      return { runsPerSec: total / (ms / 1000), cpuUsPerRun: (cpu.user + cpu.system) / total };
    },
    async teardown() {
      await orch.stop();
    },
  };
}

header('durable: SQLite store vs memory store', {
  inFlight: IN_FLIGHT,
  rounds: ROUNDS,
  ...(baselinePath === undefined ? {} : { baseline: baselinePath }),
});
const results: Record<string, unknown> = {};
const rows: (string | number)[][] = [];
for (const [isolation, total, target] of [
  ['inline', 50_000, 0.7],
  ['thread', 20_000, 0.6],
] as const) {
  const pairs: [Variant<Measure>, Variant<Measure>][] = [
    [variant('memory', isolation, total), variant('sqlite', isolation, total)],
  ];
  if (baseline !== undefined) {
    const build = { lib: baseline, label: ' (baseline)' };
    pairs.push([variant('memory', isolation, total, build), variant('sqlite', isolation, total, build)]);
  }
  const out = await interleave(pairs.flat(), ROUNDS);
  for (const [memory, sqlite] of pairs) {
    const m = out.get(memory.name);
    const d = out.get(sqlite.name);
    if (m === undefined || d === undefined) continue;
    results[memory.name.replace(', memory store', '')] = { memory: m, sqlite: d };
    // Ratio of the medians, with the range of the per-round ratios (each round of the two is adjacent
    // in time, so a round's ratio shows how much the machine's drift moved it).
    const ratio = d.runsPerSec.median / m.runsPerSec.median;
    const perRound = d.runsPerSec.rounds.map((v, i) => v / (m.runsPerSec.rounds[i] as number));
    const range = `rounds ${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}`;
    rows.push([memory.name, fmt(m.runsPerSec), m.cpuUsPerRun.median.toFixed(1), '']);
    rows.push([
      sqlite.name,
      fmt(d.runsPerSec),
      d.cpuUsPerRun.median.toFixed(1),
      `${ratio.toFixed(2)}× (${range}; ≥ ${target}×: ${ratio >= target ? 'met' : 'MISSED'})`,
    ]);
  }
}
table(['variant', 'runs/s median (min–max)', 'host CPU µs/run', 'durable / memory'], rows);
save('durable', results);
rmSync(dir, { recursive: true, force: true });
