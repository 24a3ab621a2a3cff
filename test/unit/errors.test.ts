import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeError,
  deserializeError,
  isNonRetryable,
  OrchestratorError,
  RunError,
  serializeError,
} from '../../src/errors.ts';

class CustomError extends Error {
  override name = 'CustomError';
  code = 'E_CUSTOM';
  retryable = false;
  statusCode = 503;
  details = { table: 'users', ids: [1, 2] };
  helper(): string {
    return 'methods are not data';
  }
}

/** What crosses a thread or process boundary: the structured clone of the serialized form. */
function roundTrip(error: unknown): Error {
  return deserializeError(structuredClone(serializeError(error)));
}

describe('serializeError / deserializeError', () => {
  it('round trip keeps name, message, stack, code, retryable and extra props', () => {
    const original = new CustomError('database gone');
    const back = roundTrip(original) as Error & Record<string, unknown>;
    assert.ok(back instanceof Error);
    assert.equal(back.name, 'CustomError');
    assert.equal(back.message, 'database gone');
    assert.equal(back.stack, original.stack);
    assert.equal(back.code, 'E_CUSTOM');
    assert.equal(back.retryable, false);
    assert.equal(back.statusCode, 503);
    assert.deepEqual(back.details, { table: 'users', ids: [1, 2] });
  });

  it('serialized form is plain cloneable data; functions are dropped', () => {
    const error = Object.assign(new Error('x'), { callback: () => 1, n: 1 });
    const data = serializeError(error);
    assert.doesNotThrow(() => structuredClone(data));
    assert.equal(data.props?.callback, undefined);
    assert.equal(data.props?.n, 1);
  });

  it('keeps a plain Error with only a code, and falsy codes/retryable values', () => {
    const e = Object.assign(new Error('nope'), { code: 0, retryable: true });
    const back = roundTrip(e) as Error & { code?: unknown; retryable?: unknown };
    assert.equal(back.name, 'Error');
    assert.equal(back.code, 0);
    assert.equal(back.retryable, true);
  });

  it('keeps the name of built-in subclasses', () => {
    const back = roundTrip(new TypeError('bad type'));
    assert.equal(back.name, 'TypeError');
    assert.equal(back.message, 'bad type');
  });

  it('turns thrown non-errors into an Error with a readable message', () => {
    assert.deepEqual(serializeError('just a string'), { name: 'Error', message: 'just a string' });
    assert.equal(serializeError({ a: 1 }).message, '{"a":1}');
    assert.equal(serializeError(42).message, '42');
    assert.equal(serializeError(undefined).message, 'undefined');
    const back = roundTrip('boom');
    assert.ok(back instanceof Error);
    assert.equal(back.message, 'boom');
  });

  it('describes a circular non-error value without throwing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.equal(typeof serializeError(circular).message, 'string');
  });
});

describe('isNonRetryable', () => {
  it('is true only for retryable === false', () => {
    assert.equal(isNonRetryable(Object.assign(new Error('x'), { retryable: false })), true);
    assert.equal(isNonRetryable({ retryable: false }), true);
    assert.equal(isNonRetryable(new Error('x')), false);
    assert.equal(isNonRetryable(Object.assign(new Error('x'), { retryable: true })), false);
    assert.equal(isNonRetryable(Object.assign(new Error('x'), { retryable: 'false' })), false);
    assert.equal(isNonRetryable(Object.assign(new Error('x'), { retryable: 0 })), false);
    assert.equal(isNonRetryable(null), false);
    assert.equal(isNonRetryable(undefined), false);
    assert.equal(isNonRetryable('retryable: false'), false);
  });

  it('survives the round trip', () => {
    assert.equal(isNonRetryable(roundTrip(new CustomError('x'))), true);
    assert.equal(isNonRetryable(roundTrip(new Error('x'))), false);
  });
});

describe('OrchestratorError / RunError', () => {
  it('OrchestratorError carries its code and name', () => {
    const e = new OrchestratorError('ERR_QUEUE_FULL', 'full');
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'OrchestratorError');
    assert.equal(e.code, 'ERR_QUEUE_FULL');
    assert.equal(e.message, 'full');
  });

  it('RunError carries worker, reason, attempts and cause', () => {
    const cause = new Error('disk full');
    const e = new RunError('report', 'timeout', 3, cause);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'RunError');
    assert.equal(e.worker, 'report');
    assert.equal(e.reason, 'timeout');
    assert.equal(e.attempts, 3);
    assert.equal(e.cause, cause);
    assert.ok(
      e.message.includes('report') && e.message.includes('timeout') && e.message.includes('disk full'),
    );
  });

  it('instanceof holds for errors of a second copy of the library (Symbol.for brand)', async () => {
    // A second module instance of errors.ts: its classes are other objects, as in a second install.
    const specifier = '../../src/errors.ts?copy=2';
    const copy = (await import(specifier)) as typeof import('../../src/errors.ts');
    assert.notEqual(copy.OrchestratorError, OrchestratorError, 'really a second copy');
    const fromCopy = new copy.OrchestratorError('ERR_UNKNOWN_WORKER', 'nope');
    const runFromCopy = new copy.RunError('w', 'crash', 2, new Error('x'));
    assert.ok(fromCopy instanceof OrchestratorError);
    assert.ok(runFromCopy instanceof RunError);
    assert.ok(new OrchestratorError('ERR_STORE', 's') instanceof copy.OrchestratorError);
    assert.ok(new RunError('w', 'error', 1, 'e') instanceof copy.RunError);
    // The brands are distinct, and plain errors carry none.
    assert.ok(!(fromCopy instanceof RunError));
    assert.ok(!(runFromCopy instanceof OrchestratorError));
    assert.ok(!(new Error('plain') instanceof OrchestratorError));
    assert.ok(!(Object.assign(new Error('look-alike'), { code: 'ERR_STORE' }) instanceof OrchestratorError));
    const values: unknown[] = [null, undefined, 'ERR_STORE', 42];
    for (const value of values) assert.ok(!(value instanceof RunError));
    // Still errors, and the brand is on the prototype: not a field of the error that could be copied.
    assert.ok(fromCopy instanceof Error);
    assert.deepEqual(Object.getOwnPropertySymbols(fromCopy), []);
  });

  it('a subclass keeps the ordinary instanceof check', () => {
    class StoreLocked extends OrchestratorError {}
    const sub = new StoreLocked('ERR_STORE', 'locked');
    assert.ok(sub instanceof StoreLocked);
    assert.ok(sub instanceof OrchestratorError);
    assert.ok(!(new OrchestratorError('ERR_STORE', 'other') instanceof StoreLocked));
  });

  it('describeError reads errors, strings and data', () => {
    assert.equal(describeError(new Error('m')), 'm');
    assert.equal(describeError('s'), 's');
    assert.equal(describeError({ k: 1 }), '{"k":1}');
  });
});
