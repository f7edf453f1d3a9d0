import { z } from 'zod';

/** Which JSON Schema dialect to write: draft 2020-12 (AsyncAPI, task schemas) or OpenAPI 3.0's. */
export type JsonSchemaTarget = 'draft-2020-12' | 'openapi-3.0';

/**
 * A zod schema as a JSON Schema object without its `$schema` key (the embedding document —
 * AsyncAPI, OpenAPI, a task summary — says which dialect it speaks). `io: 'input'` describes
 * what may be sent (defaults optional, coercions as their target type). Parts JSON Schema
 * cannot express (refinements, transforms) become `{}`: the zod schema stays the validator.
 *
 * @example
 * ```ts
 * toJsonSchema(z.object({ n: z.int() }), { target: 'openapi-3.0' });
 * // { type: 'object', properties: { n: { type: 'integer', … } }, required: ['n'], … }
 * ```
 */
export function toJsonSchema(
  type: z.ZodType,
  o: { io?: 'input' | 'output'; target?: JsonSchemaTarget } = {},
): Record<string, unknown> {
  const json = z.toJSONSchema(type, {
    io: o.io ?? 'input',
    unrepresentable: 'any',
    target: o.target ?? 'draft-2020-12',
  }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}
