import type {
  FastifySchema,
  FastifySchemaCompiler,
  FastifySerializerCompiler,
  RouteShorthandOptions,
} from 'fastify';
import { z } from 'zod';
import { type ErrorCode, errorCatalog } from '../../../protocol/index.js';
import { toJsonSchema } from '../../../protocol/json-schema.js';

/** The `$id` of the shared error body schema: `#/components/schemas/WirehubError` in the document. */
export const ERROR_SCHEMA_ID = 'WirehubError';

/** Every HTTP error body: `{"error":{"code","message","details?"}}` with a code of the catalog. */
export const httpErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(errorCatalog) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional().describe('More about the error; its shape depends on the code.'),
    }),
  })
  .describe('An error: its code is one of the error catalog (docs/errors.md).');

/** The name of the bearer security scheme in the document. */
export const BEARER_SCHEME = 'bearer';

/** What a guarded route lists as its security: `Authorization: Bearer <jwt|api-key>`. */
export const BEARER = [{ [BEARER_SCHEME]: [] }];

/** A zod schema as an OpenAPI 3.0 schema object (what `@fastify/swagger` copies into the document). */
export function docSchema(type: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  return toJsonSchema(type, { io, target: 'openapi-3.0' });
}

/** A 2xx JSON response: the zod schema of what the handler returns, described. */
export function jsonResponse(description: string, type: z.ZodType): Record<string, unknown> {
  return { description, ...docSchema(type, 'output') };
}

/** A non-JSON response (`text/html`, `text/plain`, …) whose body is a string. */
export function textResponse(description: string, ...types: string[]): Record<string, unknown> {
  return {
    description,
    content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string' } }])),
  };
}

/**
 * The error responses of a route, by HTTP status from the catalog: each names its codes and
 * points at the shared error schema.
 *
 * @example
 * ```ts
 * errorResponses('bad_channel', 'forbidden'); // { 400: {…`bad_channel`…}, 403: {…} }
 * ```
 */
export function errorResponses(...codes: ErrorCode[]): Record<number, Record<string, unknown>> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status: number = errorCatalog[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: list.map((c) => `\`${c}\`: ${errorCatalog[c].message}`).join(' · '),
        content: { 'application/json': { schema: { $ref: `${ERROR_SCHEMA_ID}#` } } },
      },
    ]),
  );
}

/** Errors every `/api/*` route may answer: no or bad credentials, a grant missing. */
export const GUARDED_ERRORS = ['unauthorized', 'forbidden'] as const satisfies ErrorCode[];

// zod in the handlers stays the one validator, and responses go out exactly as the handler
// built them: Fastify would otherwise validate with Ajv (other error bodies) and serialize
// with fast-json-stringify, which drops every property its schema does not list.
const noValidation: FastifySchemaCompiler<unknown> = () => () => true;
const plainJson: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);

/**
 * Route options that attach `schema` for the OpenAPI document only: the schema validates
 * nothing and serializes nothing, per route, so routes of other plugins keep Fastify's
 * compilers.
 *
 * @example
 * ```ts
 * app.get('/healthz', documented({ summary: 'Liveness', tags: ['health'] }), async () => ({ status: 'ok' }));
 * ```
 */
export function documented(schema: FastifySchema): RouteShorthandOptions {
  return { schema, validatorCompiler: noValidation, serializerCompiler: plainJson };
}
