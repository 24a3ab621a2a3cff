// The CLI's tables are pure functions of what the server answered: worker names and worker-provided
// text are data, never keys to look up among inherited ones, never terminal commands.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusResponse } from '../../src/cli/client.ts';
import { statusTable } from '../../src/cli/commands.ts';
import { renderDeadLetterTable } from '../../src/cli/dead-letter-table.ts';
import { renderStatusTable } from '../../src/cli/status-table.ts';
import { plainText } from '../../src/cli/terminal-text.ts';

test('item 8 (prototype keys): status table lists "__proto__" and "constructor" workers with their mode', () => {
  // As JSON.parse builds it from GET /status: "__proto__" is an own key there.
  const status = JSON.parse(
    JSON.stringify({ state: 'running', workers: 3, running: 0, queued: 0 }).replace(
      /}$/,
      ',"workerStates":{"__proto__":{"enabled":true,"running":false,"mode":"triggered","isolation":"thread"},' +
        '"constructor":{"enabled":true,"running":false,"mode":"scheduled","isolation":"process"},' +
        '"plain":{"enabled":false,"running":false,"mode":"continuous","isolation":"inline"}}}',
    ),
  ) as StatusResponse;
  const lines = statusTable(status).split('\n');
  const row = (name: string) => lines.find((line) => line.startsWith(`${name} `)) ?? '';
  assert.match(row('__proto__'), /^__proto__\s+triggered\s+thread\s+idle/);
  assert.match(row('constructor'), /^constructor\s+scheduled\s+process\s+idle/);
  assert.match(row('plain'), /^plain\s+continuous\s+inline\s+disabled/);
});

test('item 16 (terminal text): control sequences are removed from dead-letter cells, visible text kept', () => {
  const table = renderDeadLetterTable([
    {
      id: 'id-1',
      name: 'job\x1b]0;retitled\x07',
      reason: 'error',
      error:
        'a\x1b[2Jb\x1b[1;31mc\x1b[0m\x9b2Kd\x1bPq#0\x1b\\e\x1b]8;;http://x.example\x1b\\f\x1b]8;;\x1b\\\x07\x00\x7f\x85g',
      attempts: 1,
      failedAt: '2026-01-01T00:00:00.000Z',
      payload: { text: '\x1b[31mred' },
    },
  ]);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
  assert.doesNotMatch(table, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  assert.match(table, /abcdefg/);
  assert.doesNotMatch(table, /retitled/);
  assert.equal(plainText('tab\tand\nnewline kept'), 'tab\tand\nnewline kept');
  assert.equal(plainText('unterminated \x1b]0;title'), 'unterminated ');
});

// The CPU and memory columns. README "Health": figures are summed over a worker's runs in flight and stay
// after the run ends, with their sampledAt.
const cells = (table: string, name: string): string[] =>
  (table.split('\n').find((line) => line.startsWith(`${name} `)) ?? '').trim().split(/\s{2,}/);

function one(worker: Record<string, unknown>) {
  return {
    state: 'running',
    workers: 1,
    running: 1,
    queued: 0,
    workerStates: { w: { enabled: true, running: false, ...worker } },
  };
}

test('status table: an idle worker shows no CPU or memory, though its last sample is kept', () => {
  const table = renderStatusTable(
    one({
      runningCount: 0,
      resources: { cpuPercent: 97, memoryBytes: 50 * 1048576, sampledAt: '2026-01-01T00:00:01.000Z' },
    }),
    { w: { executionMode: 'scheduled', isolation: 'process' } },
  );
  assert.deepEqual(cells(table, 'w').slice(3), ['idle', '-', '-', '-', '-', '-', '-', '-']);
});

test('status table: a sample taken before the latest run started is not shown for it', () => {
  const table = renderStatusTable(
    one({
      running: true,
      runningCount: 1,
      lastRun: '2026-01-01T00:00:02.000Z',
      resources: { cpuPercent: 80, memoryBytes: 50 * 1048576, sampledAt: '2026-01-01T00:00:01.000Z' },
    }),
  );
  assert.deepEqual(cells(table, 'w').slice(-2), ['-', '-']);
});

test('status table: a running thread shows its reported heap, and none before its first report', () => {
  const status = (memoryBytes: number) =>
    one({
      running: true,
      runningCount: 1,
      lastRun: '2026-01-01T00:00:00.000Z',
      resources: { cpuPercent: 42, memoryBytes, sampledAt: '2026-01-01T00:00:00.500Z' },
    });
  const configs = { w: { executionMode: 'scheduled', isolation: 'thread' } };
  assert.deepEqual(cells(renderStatusTable(status(12.5 * 1048576), configs), 'w').slice(-2), ['42', '12.5']);
  // 0: the sampler had no heap report from the thread yet (it is still starting), not an empty heap.
  assert.deepEqual(cells(renderStatusTable(status(0), configs), 'w').slice(-2), ['42', '-']);
});

test('status table: CPU is per run in flight, as % of one core, at most 100', () => {
  const status = (cpuPercent: number, runningCount: number) =>
    one({ running: true, runningCount, resources: { cpuPercent, memoryBytes: 1048576 } });
  const cpu = (table: string) => cells(table, 'w').at(-2);
  assert.equal(cpu(renderStatusTable(status(180, 2))), '90');
  assert.equal(cpu(renderStatusTable(status(130, 1))), '100');
  assert.match(renderStatusTable(status(50, 1)), /CPU %\/run/);
});
