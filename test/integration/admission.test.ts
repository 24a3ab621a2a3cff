// Admission (README: API, Error codes): payload size, and worker names that are Object.prototype keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerOrchestrator } from '../../src/index.ts';
import { isCode, useOrchestrator } from '../helpers.ts';

test('maxPayloadBytes: a larger payload is refused at the call with ERR_PAYLOAD_TOO_LARGE; nothing runs', async (t) => {
  const orch = useOrchestrator(t, { maxPayloadBytes: 1024 });
  let runs = 0;
  orch.registerWorker('w', (ctx) => {
    runs++;
    return ctx.payload;
  });
  await orch.start();
  await assert.rejects(orch.run('w', { blob: 'x'.repeat(2000) }), isCode('ERR_PAYLOAD_TOO_LARGE', '1024'));
  await assert.rejects(orch.run('w', 'y'.repeat(5000)), isCode('ERR_PAYLOAD_TOO_LARGE'));
  await assert.rejects(orch.triggerWorker('w', { blob: 'x'.repeat(2000) }), isCode('ERR_PAYLOAD_TOO_LARGE'));
  assert.equal(runs, 0);
  assert.equal(orch.getStatus().queued, 0);
  // Within the limit: runs as usual.
  assert.deepEqual(await orch.run('w', { small: 'x'.repeat(100) }), { small: 'x'.repeat(100) });
  assert.equal(orch.deadLetters.size, 0);
});

test('maxPayloadBytes: defaults to 16 MiB and must be a positive integer', () => {
  assert.throws(
    () => new WorkerOrchestrator({ maxPayloadBytes: 0 }),
    isCode('ERR_INVALID_OPTION', 'maxPayloadBytes'),
  );
  assert.throws(() => new WorkerOrchestrator({ maxPayloadBytes: 1.5 }), isCode('ERR_INVALID_OPTION'));
});

test('maxPayloadBytes: a 20 MB payload is refused by default', async (t) => {
  const orch = useOrchestrator(t);
  orch.registerWorker('w', () => 'ran');
  await orch.start();
  await assert.rejects(orch.run('w', Buffer.alloc(20 * 1024 * 1024)), isCode('ERR_PAYLOAD_TOO_LARGE'));
});

test('worker names that are Object.prototype keys are plain names everywhere in getStatus()', async (t) => {
  const orch = useOrchestrator(t);
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    orch.registerWorker(name, () => name);
  }
  await orch.start();
  assert.equal(await orch.run('__proto__'), '__proto__');
  assert.equal(await orch.run('constructor'), 'constructor');
  const states = orch.getStatus().workerStates;
  assert.deepEqual(Object.keys(states).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
  const byName = new Map(Object.entries(states));
  assert.equal(byName.get('__proto__')?.totals.succeeded, 1);
  assert.equal(byName.get('constructor')?.totals.succeeded, 1);
  assert.equal(byName.get('toString')?.totals.runs, 0);
  // An unknown name is not found through the prototype either.
  assert.equal(Object.hasOwn(states, 'valueOf'), false);
  await assert.rejects(orch.run('valueOf'), isCode('ERR_UNKNOWN_WORKER'));
});
