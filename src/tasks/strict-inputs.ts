import type { z } from 'zod';

/** The parts of a zod 4 schema this module reads: its definition, and `clone`. */
interface Schema {
  _zod?: { def: Record<string, unknown> & { type: string } };
  clone?(def: Record<string, unknown>, params: { parent: boolean }): Schema;
  strict?(): Schema;
}

/** Wrappers whose one inner schema sits in `innerType`. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/**
 * A task's inputs schema as runs check it: every object in it that says nothing about
 * unknown keys refuses them (`unrecognized_keys`) instead of zod's default of dropping them
 * silently, so `--input count=2` for a task that takes `n` is an error naming `count`, not a
 * run with the default `n`.
 *
 * An object opts out the zod way: `z.looseObject({…})` / `.loose()` keeps unknown keys,
 * `.catchall(schema)` checks them. (`.strip()` is zod's default and cannot be told apart
 * from it.) Objects inside `z.lazy` (recursive schemas) and `z.intersection` (whose sides
 * each see the other's keys) are left as they are. The result is a copy (`clone` with its
 * parent, so descriptions and metadata carry over); the given schema is not changed.
 *
 * @example
 * ```ts
 * strictInputs(z.object({ n: z.number() })).safeParse({ count: 2 });
 * // fails: Unrecognized key: "count" (and n is missing)
 * ```
 */
export function strictInputs<T extends z.ZodType>(schema: T): T {
  return strict(schema as unknown as Schema, new Map()) as unknown as T;
}

function strict(schema: Schema, done: Map<Schema, Schema>): Schema {
  const seen = done.get(schema);
  if (seen) return seen;
  const result = rebuild(schema, done);
  done.set(schema, result);
  return result;
}

function rebuild(schema: Schema, done: Map<Schema, Schema>): Schema {
  const def = schema._zod?.def;
  if (!def || typeof schema.clone !== 'function') return schema;
  const copy = (changes: Record<string, unknown>): Schema =>
    (schema.clone as NonNullable<Schema['clone']>)({ ...def, ...changes }, { parent: true });
  const inner = (key: string): Schema => strict(def[key] as Schema, done);
  switch (def.type) {
    case 'object': {
      const shape: Record<string, Schema> = {};
      let changed = false;
      for (const [key, value] of Object.entries(def.shape as Record<string, Schema>)) {
        shape[key] = strict(value, done);
        changed ||= shape[key] !== value;
      }
      // Only the default (no catchall) becomes strict; the schema's own zod makes the `never`.
      const catchall = def.catchall ?? schema.strict?.()._zod?.def.catchall;
      if (!changed && catchall === def.catchall) return schema;
      return copy({ shape, catchall });
    }
    case 'array': {
      const element = inner('element');
      return element === def.element ? schema : copy({ element });
    }
    case 'record': {
      const valueType = inner('valueType');
      return valueType === def.valueType ? schema : copy({ valueType });
    }
    case 'pipe': {
      // Only what comes in is checked against keys; `out` gets the transformed value.
      const input = inner('in');
      return input === def.in ? schema : copy({ in: input });
    }
    case 'union': {
      const options = (def.options as Schema[]).map((o) => strict(o, done));
      return options.every((o, i) => o === (def.options as Schema[])[i]) ? schema : copy({ options });
    }
    case 'tuple': {
      const items = (def.items as Schema[]).map((o) => strict(o, done));
      const rest = def.rest ? inner('rest') : def.rest;
      const same = rest === def.rest && items.every((o, i) => o === (def.items as Schema[])[i]);
      return same ? schema : copy({ items, rest });
    }
    default: {
      if (!WRAPPERS.has(def.type)) return schema;
      const innerType = inner('innerType');
      return innerType === def.innerType ? schema : copy({ innerType });
    }
  }
}
