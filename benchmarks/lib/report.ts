import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Summary } from './stats.ts';

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
}

export function header(title: string, options: Record<string, unknown>): void {
  const m = machine();
  console.log(`\n## ${title}`);
  console.log(`node ${m.node} · ${m.cpu} · ${m.cores} cores · ${JSON.stringify(options)}\n`);
}

/** Formats a summary as "median (min–max)". */
export function fmt(summary: Summary, digits = 0): string {
  const f = (n: number) =>
    n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `${f(summary.median)} (${f(summary.min)}–${f(summary.max)})`;
}

/** Prints a Markdown table (so a run can be pasted into the README as is). */
export function table(columns: string[], rows: (string | number)[][]): void {
  const cells = [columns, ...rows.map((row) => row.map(String))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of cells.slice(1)) console.log(line(row));
  console.log('');
}

/** Writes the scenario's figures to benchmarks/results/<name>.json. */
export function save(name: string, data: Record<string, unknown>): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}${name}.json`, `${JSON.stringify({ machine: machine(), ...data }, null, 2)}\n`);
}
