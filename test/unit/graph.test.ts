import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrchestratorError } from '../../src/errors.ts';
import { validateGraph, validateNames } from '../../src/scheduler/graph.ts';

type Spec = Record<string, { dependsOn?: string[]; blocks?: string[] }>;

function graph(spec: Spec) {
  const nodes = new Map<string, { options: { dependsOn: string[]; blocks: string[] } }>();
  for (const [name, { dependsOn = [], blocks = [] }] of Object.entries(spec)) {
    nodes.set(name, { options: { dependsOn, blocks } });
  }
  return nodes;
}

function check(spec: Spec): void {
  validateGraph(graph(spec));
}

function expectCode(fn: () => void, code: string, includes: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof OrchestratorError, 'an OrchestratorError');
    assert.equal(error.code, code);
    for (const part of includes)
      assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

describe('validateGraph', () => {
  it('accepts an empty graph, independent workers and chains', () => {
    check({});
    check({ a: {}, b: {} });
    check({ a: { dependsOn: ['b'] }, b: { dependsOn: ['c'] }, c: {} });
  });

  it('accepts diamonds', () => {
    check({
      top: { dependsOn: ['left', 'right'] },
      left: { dependsOn: ['bottom'] },
      right: { dependsOn: ['bottom'] },
      bottom: {},
    });
  });

  it('accepts mutual blocks (exclusion is not a dependency)', () => {
    check({ a: { blocks: ['b'] }, b: { blocks: ['a'] } });
  });

  it('refuses unknown names in dependsOn', () => {
    expectCode(() => check({ a: { dependsOn: ['ghost'] } }), 'ERR_UNKNOWN_DEPENDENCY', ['a', 'ghost']);
  });

  it('refuses unknown names in blocks', () => {
    expectCode(() => check({ a: {}, b: { blocks: ['a', 'phantom'] } }), 'ERR_UNKNOWN_DEPENDENCY', [
      'b',
      'phantom',
    ]);
  });

  it('refuses a self-dependency', () => {
    expectCode(() => check({ a: { dependsOn: ['a'] } }), 'ERR_DEPENDENCY_CYCLE', ['a -> a']);
  });

  it('refuses a 2-cycle, listing it', () => {
    expectCode(() => check({ a: { dependsOn: ['b'] }, b: { dependsOn: ['a'] } }), 'ERR_DEPENDENCY_CYCLE', [
      'a -> b -> a',
    ]);
  });

  it('refuses a 3-cycle, listing it', () => {
    expectCode(
      () => check({ a: { dependsOn: ['b'] }, b: { dependsOn: ['c'] }, c: { dependsOn: ['a'] } }),
      'ERR_DEPENDENCY_CYCLE',
      ['a -> b -> c -> a'],
    );
  });

  it('lists only the cycle, not the path that led into it', () => {
    expectCode(
      () => check({ x: { dependsOn: ['a'] }, a: { dependsOn: ['b'] }, b: { dependsOn: ['a'] } }),
      'ERR_DEPENDENCY_CYCLE',
      ['a -> b -> a'],
    );
    assert.throws(
      () => check({ x: { dependsOn: ['a'] }, a: { dependsOn: ['b'] }, b: { dependsOn: ['a'] } }),
      (error: Error) => !error.message.includes('x ->'),
    );
  });

  it('validateNames checks one worker only (a registration while running)', () => {
    const nodes = graph({ ok: { dependsOn: ['a'] }, a: {}, bad: { dependsOn: ['ghost'] } });
    validateNames(nodes, 'ok');
    validateNames(nodes, 'a');
    expectCode(() => validateNames(nodes, 'bad'), 'ERR_UNKNOWN_DEPENDENCY', ['bad', 'ghost']);
  });

  it('follows a chain of 20,000 dependencies without overflowing the stack', () => {
    const spec: Spec = {};
    for (let i = 0; i < 20_000; i++) spec[`w${i}`] = i === 0 ? {} : { dependsOn: [`w${i - 1}`] };
    check(spec);
    (spec.w0 as { dependsOn?: string[] }).dependsOn = ['w19999'];
    expectCode(() => check(spec), 'ERR_DEPENDENCY_CYCLE', ['w0 -> w19999', 'more)', 'w1 -> w0']);
  });
});
