import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toJsonSchema } from '../../src/protocol/json-schema.js';
import { defineTask } from '../../src/tasks/define-task.js';
import { strictInputs } from '../../src/tasks/strict-inputs.js';

const task = (inputs: z.ZodType) =>
  defineTask({ project: 'p', domain: 'd', name: 'n', version: 'v1', inputs, run: () => null });

/** The unknown keys zod reports, by path. */
function unknownKeys(schema: z.ZodType, value: unknown): Record<string, string[]> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return {};
  const out: Record<string, string[]> = {};
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') out[issue.path.join('.')] = issue.keys;
  }
  return out;
}

describe('task inputs refuse unknown keys', () => {
  it('refuses a typo instead of running with the default (the countdown case)', () => {
    const inputs = task(z.object({ n: z.number().default(5), delayMs: z.number().default(1000) })).inputs;
    expect(unknownKeys(inputs, { count: 2 })).toEqual({ '': ['count'] });
    expect(inputs.safeParse({ n: 2 })).toMatchObject({ success: true, data: { n: 2, delayMs: 1000 } });
  });

  it('reaches objects inside arrays, records, unions, tuples, wrappers and pipes', () => {
    const inner = z.object({ a: z.number() });
    const inputs = task(
      z.object({
        list: z.array(inner),
        byName: z.record(z.string(), inner),
        either: z.union([inner, z.string()]),
        kind: z.discriminatedUnion('k', [z.object({ k: z.literal('x') }), z.object({ k: z.literal('y') })]),
        pair: z.tuple([inner]),
        maybe: inner.optional().nullable(),
        withDefault: inner.default({ a: 1 }),
        mapped: inner.transform((v) => v.a),
      }),
    ).inputs;
    const good = {
      list: [{ a: 1 }],
      byName: { x: { a: 1 } },
      either: { a: 1 },
      kind: { k: 'x' },
      pair: [{ a: 1 }],
      maybe: { a: 1 },
      withDefault: { a: 1 },
      mapped: { a: 1 },
    };
    expect(inputs.safeParse(good).success).toBe(true);
    const extra = { a: 1, typo: 2 };
    expect(
      unknownKeys(inputs, {
        list: [extra],
        byName: { x: extra },
        pair: [extra],
        maybe: extra,
        withDefault: extra,
        mapped: extra,
        kind: { k: 'x', typo: 1 },
        either: { a: 1 },
      }),
    ).toEqual({
      'list.0': ['typo'],
      'byName.x': ['typo'],
      'pair.0': ['typo'],
      maybe: ['typo'],
      withDefault: ['typo'],
      mapped: ['typo'],
      kind: ['typo'],
    });
    // A union option that does not match strictly is no match at all.
    expect(inputs.safeParse({ ...good, either: extra }).success).toBe(false);
  });

  it('keeps refinements, defaults and descriptions', () => {
    const inputs = task(
      z
        .object({ n: z.number().describe('how many') })
        .refine((v) => v.n > 0, 'n must be positive')
        .describe('the inputs'),
    ).inputs;
    expect(inputs.safeParse({ n: -1 }).success).toBe(false);
    expect(inputs.safeParse({ n: 1 }).success).toBe(true);
    expect(toJsonSchema(inputs)).toMatchObject({
      description: 'the inputs',
      properties: { n: { description: 'how many' } },
      additionalProperties: false,
    });
  });

  it('lets a task opt out the zod way: loose keeps unknown keys, catchall checks them', () => {
    const loose = task(z.looseObject({ n: z.number() })).inputs;
    expect(loose.safeParse({ n: 1, extra: 'kept' })).toMatchObject({
      success: true,
      data: { extra: 'kept' },
    });
    expect(task(z.object({ n: z.number() }).loose()).inputs.safeParse({ n: 1, x: 1 }).success).toBe(true);
    const typed = task(z.object({ n: z.number() }).catchall(z.string())).inputs;
    expect(typed.safeParse({ n: 1, x: 'y' }).success).toBe(true);
    expect(typed.safeParse({ n: 1, x: 2 }).success).toBe(false);
    // A loose object's own nested objects are still strict unless they say otherwise.
    const nested = task(z.looseObject({ inner: z.object({ a: z.number() }) })).inputs;
    expect(unknownKeys(nested, { inner: { a: 1, b: 2 }, top: 1 })).toEqual({ inner: ['b'] });
  });

  it('leaves intersections, lazy schemas and non-objects alone, and never changes the given schema', () => {
    const both = z.intersection(z.object({ a: z.number() }), z.object({ b: z.number() }));
    expect(task(both).inputs.safeParse({ a: 1, b: 2 }).success).toBe(true);
    type Tree = { children: Tree[] };
    const tree: z.ZodType<Tree> = z.lazy(() => z.object({ children: z.array(tree) }));
    expect(task(z.object({ tree })).inputs.safeParse({ tree: { children: [] } }).success).toBe(true);
    expect(strictInputs(z.any()).safeParse({ x: 1 }).success).toBe(true);
    const given = z.object({ n: z.number() });
    strictInputs(given);
    expect(given.safeParse({ n: 1, x: 1 }).success).toBe(true);
  });
});
