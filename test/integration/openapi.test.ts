import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import AjvModule from 'ajv-draft-04';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/index.js';
import { eventually } from '../support/cluster.js';
import { API_KEY } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/tasks', import.meta.url));

interface Operation {
  tags?: string[];
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
type Document = { openapi: string; info: { title: string; version: string } } & {
  paths: Record<string, Record<string, Operation>>;
};

let srv: RunningServer;
/** Every route the server registered, as `METHOD /openapi/{path}`, seen by an onRoute hook. */
const registered = new Set<string>();
/** The document with every `$ref` resolved, as a client generator would read it. */
let doc: Document;
// OpenAPI 3.0 schema objects follow JSON Schema draft 4 (`exclusiveMinimum: true`).
// ajv-draft-04 is CommonJS: under NodeNext its class is the default of the default.
type AjvLike = { validate(schema: object, value: unknown): boolean; errorsText(): string };
const Ajv = (AjvModule as unknown as { default: new (o: { strict: boolean }) => AjvLike }).default;
const ajv = new Ajv({ strict: false });

beforeAll(async () => {
  const server = await createServer({
    port: 0,
    logLevel: 'silent',
    dataDir: tempDir(),
    defaultMetrics: false,
    tasks: { modules: [FIXTURES], poolSize: 1 },
  });
  server.http.addHook('onRoute', (route) => {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    // Swagger UI's own routes, and the HEAD twins Fastify adds to every GET, are not the API.
    if (path === '/docs' || path.startsWith('/docs/')) return;
    for (const method of [route.method].flat()) if (method !== 'HEAD') registered.add(`${method} ${path}`);
  });
  const address = await server.listen();
  srv = { ...address, server, close: () => server.close() };
  const validator = new Validator();
  const res = await fetch(`${srv.url}/docs/json`);
  expect(res.status).toBe(200);
  const result = await validator.validate((await res.json()) as Parameters<Validator['validate']>[0]);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  doc = validator.resolveRefs() as Document;
});

afterAll(async () => {
  await srv.close();
});

function operation(method: string, path: string): Operation {
  const op = doc.paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${path} is not in the document`);
  return op;
}

/** Throws unless `value` matches the documented JSON body of `status` (or the request body). */
function conforms(op: Operation, status: number | 'request', value: unknown): void {
  const content = status === 'request' ? op.requestBody?.content : op.responses[String(status)]?.content;
  const schema = content?.['application/json']?.schema;
  if (!schema) throw new Error(`no documented JSON body for ${status}`);
  if (!ajv.validate(schema, value)) throw new Error(`${JSON.stringify(value)}: ${ajv.errorsText()}`);
}

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, json: await res.json() };
}

describe('GET /docs/json', () => {
  it('is a valid OpenAPI 3 document named wirehub with the package version', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: 'wirehub', version: pkg.version });
  });

  it('documents every route the server registers, with tags and its responses', () => {
    expect(registered).toContain('GET /api/tasks');
    expect(registered).toContain('GET /healthz');
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths))
      for (const method of Object.keys(methods)) documented.add(`${method.toUpperCase()} ${path}`);
    expect([...registered].filter((r) => !documented.has(r))).toEqual([]);
    for (const route of registered) {
      const [method = '', path = ''] = route.split(' ');
      const op = operation(method, path);
      expect(op.tags, route).toHaveLength(1);
      expect(Object.keys(op.responses).length, route).toBeGreaterThan(0);
      // The guarded routes say so, and answer 401/403 with the shared error body.
      if (path.startsWith('/api/') || path === '/metrics') {
        expect(op.security, route).toEqual([{ bearer: [] }]);
        for (const status of [401, 403])
          conforms(op, status, { error: { code: 'forbidden', message: 'no' } });
      } else {
        expect(op.security, route).toBeUndefined();
      }
    }
  });
});

describe('the documented shapes are what the server answers', () => {
  it('POST /api/publish: the documented body is accepted, a bad one gets the documented error', async () => {
    const op = operation('POST', '/api/publish');
    const body = { channel: 'chat:docs', data: { hello: 'openapi' } };
    conforms(op, 'request', body);
    const ok = await call('POST', '/api/publish', body);
    expect(ok.status).toBe(200);
    conforms(op, 200, ok.json);
    expect(ok.json).toMatchObject({ channel: 'chat:docs', id: expect.any(String), offset: 1 });

    const bad = { channel: 'chat:docs' };
    expect(() => conforms(op, 'request', bad)).toThrow(/data/);
    const refused = await call('POST', '/api/publish', bad);
    expect(refused.status).toBe(400);
    conforms(op, 400, refused.json);
    // zod stays the validator: its message, not Ajv's.
    expect(refused.json).toMatchObject({ error: { code: 'bad_request', message: /^bad publish body: / } });
  });

  it('history, presence, status, tasks and runs answer their documented 2xx shapes', async () => {
    const history = await call('GET', '/api/channels/chat:docs/history?limit=5');
    expect(history.status).toBe(200);
    conforms(operation('GET', '/api/channels/{channel}/history'), 200, history.json);
    const presence = await call('GET', '/api/channels/chat:docs/presence');
    conforms(operation('GET', '/api/channels/{channel}/presence'), 200, presence.json);
    conforms(operation('GET', '/api/status'), 200, (await call('GET', '/api/status')).json);
    conforms(operation('GET', '/api/tasks'), 200, (await call('GET', '/api/tasks')).json);
    conforms(operation('GET', '/healthz'), 200, (await call('GET', '/healthz')).json);
    conforms(operation('GET', '/readyz'), 200, (await call('GET', '/readyz')).json);

    const start = operation('POST', '/api/runs/{project}/{domain}/{name}/{version}');
    const inputs = { value: 'hi', steps: 2 };
    conforms(start, 'request', inputs);
    const started = await call('POST', '/api/runs/test/fixtures/echo/v1', inputs);
    expect(started.status).toBe(202);
    conforms(start, 202, started.json);
    const id = (started.json as { run_id: string }).run_id;
    const run = await eventually('the run to succeed', async () => {
      const r = await call('GET', `/api/runs/${id}`);
      return (r.json as { status: string }).status === 'SUCCEEDED' && r.json;
    });
    conforms(operation('GET', '/api/runs/{id}'), 200, run);
    conforms(operation('GET', '/api/runs'), 200, (await call('GET', '/api/runs')).json);
    const finished = await call('POST', `/api/runs/${id}/abort`);
    expect(finished.status).toBe(409);
    conforms(operation('POST', '/api/runs/{id}/abort'), 409, finished.json);
    const unknown = await call('GET', '/api/runs/nope');
    expect(unknown.status).toBe(404);
    conforms(operation('GET', '/api/runs/{id}'), 404, unknown.json);
  });

  it('GET on a WebSocket path answers its documented 426', async () => {
    const answer = await call('GET', '/chat/lobby');
    expect(answer.status).toBe(426);
    conforms(operation('GET', '/chat/{room}'), 426, answer.json);
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI as HTML', async () => {
    const res = await fetch(`${srv.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('wirehub API');
  });
});

describe('with auth on', () => {
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  it('the docs are public while /api/* still needs credentials', async () => {
    const authed = await startServer({ tasks: { poolSize: 1 }, auth: { apiKeys: [API_KEY] } });
    servers.push(authed);
    expect((await fetch(`${authed.url}/docs/json`)).status).toBe(200);
    expect((await fetch(`${authed.url}/docs`)).status).toBe(200);
    const refused = await fetch(`${authed.url}/api/tasks`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="wirehub"');
    const allowed = await fetch(`${authed.url}/api/status`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(allowed.status).toBe(200);
  });
});
