// The CLI's tables are pure functions of what the server answered: worker names and worker-provided
// text are data, never keys to look up among inherited ones, never terminal commands.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusResponse } from '../../src/cli/client.ts';
import { statusTable } from '../../src/cli/commands.ts';
import { renderDeadLetterTable } from '../../src/cli/dead-letter-table.ts';
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
