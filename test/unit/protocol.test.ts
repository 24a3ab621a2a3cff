import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import {
  type AttemptTask,
  isRunMessage,
  type ParentMessage,
  packTask,
  unpackTask,
} from '../../src/isolation/protocol.ts';

/** What crosses a child's IPC channel (`serialization: 'advanced'` is the v8 serializer). */
const overIpc = <T>(message: T): T => deserialize(serialize(message)) as T;

const task: AttemptTask = {
  id: 7,
  attempt: 2,
  payload: { list: [1, 'two'], when: new Date(0) },
  heartbeatEveryMs: 100,
  enabled: true,
  consecutiveFailures: 1,
  lastRunAt: 1_700_000_000_000,
  lastSuccessAt: undefined,
  lastError: 'boom',
};

describe('protocol', () => {
  it('an attempt is sent as one flat tuple, its packed task, and comes back whole', () => {
    const message: ParentMessage = overIpc<ParentMessage>(packTask(task));
    assert.ok(Array.isArray(message));
    assert.equal(message.length, 10, 'the task fields themselves, no envelope around them');
    assert.equal(message[0], task.id);
    assert.ok(isRunMessage(message));
    assert.deepEqual(unpackTask(message), task);
  });

  it("the first attempt of a sandbox carries the static config; later ones don't", () => {
    const config = { name: 'w', isolation: 'process' } as NonNullable<AttemptTask['config']>;
    const first = overIpc<ParentMessage>(packTask({ ...task, config }));
    assert.ok(isRunMessage(first));
    assert.deepEqual(unpackTask(first).config, config);
    const later = overIpc<ParentMessage>(packTask(task));
    assert.ok(isRunMessage(later));
    assert.equal('config' in unpackTask(later), false);
  });

  it('abort and exit are not attempts', () => {
    assert.equal(isRunMessage(overIpc<ParentMessage>(['abort', 7])), false);
    assert.equal(isRunMessage(overIpc<ParentMessage>(['exit'])), false);
  });
});
