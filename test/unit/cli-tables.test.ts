// The CLI's tables are pure functions of what the server answered: worker names and worker-provided
// text are data, never keys to look up among inherited ones, never terminal commands.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusResponse } from '../../src/cli/client.ts';
import { statusTable } from '../../src/cli/commands.ts';

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
