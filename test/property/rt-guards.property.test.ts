import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { runEventSchema } from '../../src/client/run-event-schema.js';
import { type Guard, type GuardOutput, parse } from '../../src/protocol/guard.js';
import * as rt from '../../src/protocol/rt.js';
import * as guards from '../../src/protocol/rt-guards.js';
import { runErrorSchema, runUpdateSchema } from '../../src/protocol/runs.js';

// The client checks what it reads with the zod-free guards of rt-guards.ts; the server's zod
// schemas are the definition. Each pair must have the same type and accept, refuse and output
// exactly the same values.

describe('rt-guards have the types of the zod schemas', () => {
  it('infers the same output type for every pair', () => {
    // Checked by tsc (`npm run check`): a field added to a schema but not to its guard fails here.
    expectTypeOf<GuardOutput<typeof guards.originGuard>>().toEqualTypeOf<z.output<typeof rt.originSchema>>();
    expectTypeOf<GuardOutput<typeof guards.publicationGuard>>().toEqualTypeOf<rt.RtPublication>();
    expectTypeOf<GuardOutput<typeof guards.subscribeResultGuard>>().toEqualTypeOf<rt.RtSubscribeResult>();
    expectTypeOf<GuardOutput<typeof guards.publishResultGuard>>().toEqualTypeOf<rt.RtPublishResult>();
    expectTypeOf<GuardOutput<typeof guards.historyResultGuard>>().toEqualTypeOf<rt.RtHistoryResult>();
    expectTypeOf<GuardOutput<typeof guards.presenceMemberGuard>>().toEqualTypeOf<
      z.output<typeof rt.presenceMemberSchema>
    >();
    expectTypeOf<GuardOutput<typeof guards.presenceResultGuard>>().toEqualTypeOf<rt.RtPresenceResult>();
    expectTypeOf<GuardOutput<typeof guards.runResultGuard>>().toEqualTypeOf<rt.RtRunResult>();
    expectTypeOf<GuardOutput<typeof guards.cancelResultGuard>>().toEqualTypeOf<rt.RtCancelResult>();
    expectTypeOf<GuardOutput<typeof guards.refreshResultGuard>>().toEqualTypeOf<rt.RtRefreshResult>();
    expectTypeOf<GuardOutput<typeof guards.replyFrameGuard>>().toEqualTypeOf<rt.RtReply>();
    expectTypeOf<GuardOutput<typeof guards.errorFrameGuard>>().toEqualTypeOf<rt.RtError>();
    expectTypeOf<GuardOutput<typeof guards.messagePushGuard>>().toEqualTypeOf<rt.RtMessagePush>();
    expectTypeOf<GuardOutput<typeof guards.joinPushGuard>>().toEqualTypeOf<rt.RtJoinPush>();
    expectTypeOf<GuardOutput<typeof guards.leavePushGuard>>().toEqualTypeOf<rt.RtLeavePush>();
    expectTypeOf<GuardOutput<typeof guards.runPushGuard>>().toEqualTypeOf<rt.RtRunPush>();
    expectTypeOf<GuardOutput<typeof guards.rtServerFrameGuard>>().toEqualTypeOf<rt.RtServerFrame>();
    expectTypeOf<GuardOutput<typeof guards.runErrorGuard>>().toEqualTypeOf<z.output<typeof runErrorSchema>>();
    expectTypeOf<GuardOutput<typeof guards.runUpdateGuard>>().toEqualTypeOf<
      z.output<typeof runUpdateSchema>
    >();
    expectTypeOf<GuardOutput<typeof guards.runEventGuard>>().toEqualTypeOf<z.output<typeof runEventSchema>>();
  });
});

/** Every guard with the schema it mirrors. */
const pairs: [string, z.ZodType, Guard<unknown>][] = [
  ['origin', rt.originSchema, guards.originGuard],
  ['publication', rt.publicationSchema, guards.publicationGuard],
  ['subscribe result', rt.subscribeResult, guards.subscribeResultGuard],
  ['publish result', rt.publishResult, guards.publishResultGuard],
  ['history result', rt.historyResult, guards.historyResultGuard],
  ['presence member', rt.presenceMemberSchema, guards.presenceMemberGuard],
  ['presence result', rt.presenceResult, guards.presenceResultGuard],
  ['run result', rt.runResult, guards.runResultGuard],
  ['cancel result', rt.cancelResult, guards.cancelResultGuard],
  ['refresh result', rt.refreshResult, guards.refreshResultGuard],
  ['reply frame', rt.replyFrame, guards.replyFrameGuard],
  ['error frame', rt.errorFrame, guards.errorFrameGuard],
  ['message push', rt.messagePush, guards.messagePushGuard],
  ['join push', rt.joinPush, guards.joinPushGuard],
  ['leave push', rt.leavePush, guards.leavePushGuard],
  ['run push', rt.runPush, guards.runPushGuard],
  ['server frame', rt.rtServerFrameSchema, guards.rtServerFrameGuard],
  ['run error', runErrorSchema, guards.runErrorGuard],
  ['run update', runUpdateSchema, guards.runUpdateGuard],
  ['run event', runEventSchema, guards.runEventGuard],
];

/** Anything JSON, plus `undefined` (a present key may hold it). */
const junk: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));

/** Mostly the valid kind of value, sometimes anything else. */
const mostly = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: junk });

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  values?: unknown[];
  entries?: Record<string, unknown>;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * Values near the schema, walked from its definition: each field mostly of its type, now and
 * then a wrong one, a missing required key or an unknown key, and numbers at the integer
 * edges. A schema of a kind this walker does not know fails the test (extend it).
 */
function nearValid(schema: z.ZodType): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return fc.string({ maxLength: 6 });
    case 'number':
      return fc.oneof(
        fc.integer({ min: -3, max: 1_000_000 }),
        fc.constantFrom(0, -0, 0.5, -1, 2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, 1e300, Number.NaN),
        fc.double(),
      );
    case 'boolean':
      return fc.boolean();
    case 'unknown':
      return junk;
    case 'literal':
      return fc.constantFrom(...(def.values ?? []));
    case 'enum':
      return fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...Object.values(def.entries ?? {})) },
        { weight: 1, arbitrary: fc.constant('RUNNIN') },
      );
    case 'optional':
      return nearValid(def.innerType as z.ZodType);
    case 'array':
      return fc.array(mostly(nearValid(def.element as z.ZodType)), { maxLength: 3 });
    case 'union':
      return fc.oneof(...(def.options ?? []).map(nearValid));
    case 'object': {
      const shape = def.shape ?? {};
      const keys = Object.keys(shape);
      const required = keys.filter((k) => defOf(shape[k] as z.ZodType).type !== 'optional');
      const fields = Object.fromEntries(keys.map((k) => [k, mostly(nearValid(shape[k] as z.ZodType))]));
      const tweak = fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.record({ drop: fc.constantFrom(...keys) }) },
        {
          weight: 1,
          arbitrary: fc.record({ extra: fc.constantFrom('extra', 'constructor', '__proto__'), value: junk }),
        },
      );
      return fc.tuple(fc.record(fields, { requiredKeys: required }), tweak).map(([value, t]) => {
        const out: Record<string, unknown> = { ...value };
        if (t && 'drop' in t) delete out[t.drop];
        if (t && 'extra' in t)
          Object.defineProperty(out, t.extra, {
            value: t.value,
            enumerable: true,
            configurable: true,
            writable: true,
          });
        return out;
      });
    }
    default:
      throw new Error(`nearValid: no generator for zod type "${def.type}"`);
  }
}

describe('rt-guards accept, refuse and output what the zod schemas do', () => {
  for (const [name, schema, guard] of pairs) {
    it(name, () => {
      let accepted = 0;
      let refused = 0;
      fc.assert(
        fc.property(mostly(nearValid(schema)), (value) => {
          const byZod = schema.safeParse(value);
          const byGuard = parse(guard, value);
          expect(byGuard.success, JSON.stringify(value)).toBe(byZod.success);
          if (byZod.success && byGuard.success) {
            accepted += 1;
            expect(byGuard.data).toStrictEqual(byZod.data);
          } else if (!byZod.success && !byGuard.success) {
            refused += 1;
            // The guard names one of the places zod found wrong.
            const zodPaths = byZod.error.issues.map((i) => i.path.map(String).join('.'));
            expect(zodPaths).toContain(byGuard.issues[0]?.path);
          }
        }),
        { numRuns: 1500 },
      );
      // Neither side is trivially true.
      expect(accepted).toBeGreaterThan(30);
      expect(refused).toBeGreaterThan(30);
    });
  }
});
