import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertJsonValue, defaults, parseJson, WirehubError } from '../../src/protocol/index.js';

const nested = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}${close.repeat(depth)}`;

function failure(run: () => unknown): { code: string; message: string; details: unknown } {
  try {
    run();
  } catch (err) {
    if (!(err instanceof WirehubError)) throw err;
    return { code: err.code, message: err.message, details: err.details };
  }
  throw new Error('did not throw');
}

/** Reference depth, recursive (test values are shallow enough). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function hasPrototypeKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (!Array.isArray(value)) {
    if (Object.hasOwn(value, '__proto__')) return true;
    const ctor = Object.hasOwn(value, 'constructor') ? (value as { constructor: unknown }).constructor : null;
    if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) return true;
  }
  return (Array.isArray(value) ? value : Object.values(value)).some(hasPrototypeKey);
}

describe('parseJson', () => {
  it('parses JSON as JSON.parse does', () => {
    expect(parseJson('{"a":[1,"x",{"b":null}]}')).toEqual({ a: [1, 'x', { b: null }] });
    expect(parseJson('"text"')).toBe('text');
    expect(parseJson('42')).toBe(42);
    expect(parseJson('null')).toBeNull();
  });

  it('answers invalid_json, naming what was parsed', () => {
    expect(failure(() => parseJson('{', { what: 'frame' }))).toMatchObject({
      code: 'invalid_json',
      message: 'the frame is not valid JSON',
    });
    expect(failure(() => parseJson('')).code).toBe('invalid_json');
  });

  it('accepts exactly maxDepth levels and refuses one more, arrays and objects alike', () => {
    expect(parseJson(nested(5), { maxDepth: 5 })).toEqual([[[[[]]]]]);
    expect(failure(() => parseJson(nested(6), { maxDepth: 5 }))).toMatchObject({
      code: 'json_too_deep',
      details: { maxDepth: 5 },
    });
    const objects = `${'{"a":'.repeat(6)}1${'}'.repeat(6)}`;
    expect(failure(() => parseJson(objects, { maxDepth: 5 })).code).toBe('json_too_deep');
    expect(() => parseJson(objects, { maxDepth: 6 })).not.toThrow();
  });

  it('defaults to the documented depth', () => {
    expect(() => parseJson(nested(defaults.maxJsonDepth))).not.toThrow();
    expect(failure(() => parseJson(nested(defaults.maxJsonDepth + 1))).code).toBe('json_too_deep');
  });

  it('refuses 100 000 levels without overflowing anything', () => {
    expect(failure(() => parseJson(nested(100_000))).code).toBe('json_too_deep');
    const data = `{"op":"publish","id":1,"channel":"chat:x","data":${nested(5000)}}`;
    expect(failure(() => parseJson(data, { what: 'frame' }))).toMatchObject({
      code: 'json_too_deep',
      message: `the frame nests objects and arrays deeper than ${defaults.maxJsonDepth} levels`,
    });
  });

  it('counts structure, not brackets inside strings', () => {
    const brackets = JSON.stringify({ text: '['.repeat(10_000), more: ['{{{{', ']]]'] });
    expect(parseJson(brackets, { maxDepth: 2 })).toEqual(JSON.parse(brackets));
    // Many containers side by side are wide, not deep.
    const wide = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ i, tags: [i] })));
    expect((parseJson(wide, { maxDepth: 3 }) as unknown[]).length).toBe(5000);
  });

  it('refuses prototype keys, spelled out or escaped, at any level', () => {
    for (const text of [
      '{"__proto__":{"polluted":true}}',
      '{"a":[{"b":{"__proto__":1}}]}',
      '{"\\u005f_proto__":{"x":1}}',
      '{"__pro\\u0074o__" :{}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '[{"\\u0063onstructor":{"prototype":1}}]',
    ]) {
      expect(failure(() => parseJson(text)).code, text).toBe('invalid_message');
    }
    expect(failure(() => parseJson('{"__proto__":1}'))).toMatchObject({ details: { key: '__proto__' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('lets harmless lookalikes through', () => {
    for (const text of [
      '{"constructor":"x"}',
      '{"constructor":{"name":"y"}}',
      '{"text":"__proto__"}',
      '{"proto":1,"__proto":2,"_proto__":3}',
      '{"say":"\\u00e9t\\u00e9"}',
    ]) {
      expect(parseJson(text), text).toEqual(JSON.parse(text));
    }
  });

  it('agrees with a reference depth on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 8 }), (value, maxDepth) => {
        const text = JSON.stringify(value);
        const expected = hasPrototypeKey(value)
          ? 'invalid_message'
          : depthOf(value) > maxDepth
            ? 'json_too_deep'
            : 'ok';
        let got = 'ok';
        try {
          expect(parseJson(text, { maxDepth })).toEqual(JSON.parse(text));
        } catch (err) {
          if (!(err instanceof WirehubError)) throw err;
          got = err.code;
        }
        // Both problems present: either answer is right.
        if (expected === 'invalid_message' && depthOf(value) > maxDepth) {
          expect(['invalid_message', 'json_too_deep']).toContain(got);
        } else {
          expect(got).toBe(expected);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('assertJsonValue', () => {
  it('passes values that serialise within the depth', () => {
    expect(() => assertJsonValue({ a: [1, { b: 'c' }], d: new Date(0) }, 'inputs', 3)).not.toThrow();
    expect(() => assertJsonValue(undefined, 'inputs')).not.toThrow();
  });

  it('refuses values too deep, by the depth bound or by the stack', () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 10; i += 1) deep = [deep];
    expect(failure(() => assertJsonValue(deep, 'inputs', 5))).toMatchObject({
      code: 'json_too_deep',
      message: 'the inputs nests objects and arrays deeper than 5 levels',
    });
    let huge: unknown[] = [];
    for (let i = 0; i < 100_000; i += 1) huge = [huge];
    expect(failure(() => assertJsonValue(huge, 'data')).code).toBe('json_too_deep');
  });

  it('refuses what JSON cannot hold', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(failure(() => assertJsonValue(cycle, 'data'))).toMatchObject({
      code: 'invalid_message',
      message: expect.stringMatching(/^the data cannot be serialised as JSON: .*circular/),
    });
    expect(failure(() => assertJsonValue({ n: 10n }, 'data')).code).toBe('invalid_message');
  });
});
