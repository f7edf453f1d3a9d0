import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { docSchema, documented, jsonResponse } from '../../src/server/http/openapi/route-docs.js';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** A bare Fastify on port 0 with one documented route and one plain route beside it. */
async function serve(): Promise<string> {
  const app = Fastify();
  apps.push(app);
  const only = z.strictObject({ kept: z.string() });
  const schema = { body: docSchema(only), response: { 200: jsonResponse('Only `kept`.', only) } };
  app.post('/documented', documented(schema), async (req) => ({ kept: 'yes', extra: req.body }));
  // A route of another plugin: Fastify's own compilers still apply to it.
  app.post('/validated', { schema }, async (req) => ({ kept: 'yes', extra: req.body }));
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('documented()', () => {
  it('validates nothing and sends the whole answer, whatever the schema says', async () => {
    const base = await serve();
    // The body breaks the schema (no `kept`, an extra key) and the answer has a key it does not list.
    expect(await post(`${base}/documented`, { other: 1 })).toEqual({
      status: 200,
      json: { kept: 'yes', extra: { other: 1 } },
    });
  });

  it('leaves the compilers of other routes alone', async () => {
    const base = await serve();
    expect((await post(`${base}/validated`, { other: 1 })).status).toBe(400);
    expect(await post(`${base}/validated`, { kept: 'k' })).toEqual({ status: 200, json: { kept: 'yes' } });
  });
});
