import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type ServerOptions, type WirehubServer } from '../../src/index.js';
import { principalOf } from '../../src/server/security/http-guard.js';
import { rawRequest, statusOf } from '../support/raw-http.js';
import { API_KEY, Bystander, http, mintToken, SECRET } from '../support/security.js';
import { tempDir } from '../support/server.js';

let server: WirehubServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server with an API route of the kind #3/#4 add: it checks the publish permission itself. */
async function start(options: ServerOptions) {
  server = await createServer({
    port: 0,
    logLevel: 'silent',
    defaultMetrics: false,
    dataDir: tempDir(),
    ...options,
  });
  server.http.post('/api/publish', async (req) => {
    const body = req.body as { channel?: unknown };
    const channel = typeof body.channel === 'string' ? body.channel : '';
    const principal = principalOf(req);
    principal.permissions.assert('publish', channel);
    return { ok: true, user: principal.user ?? null, keys: Object.keys(body) };
  });
  server.http.get(
    '/custom',
    { onRequest: server.guard((p) => p.permissions.assert('metrics')) },
    async (req) => ({
      user: principalOf(req).user ?? null,
    }),
  );
  server.http.get('/forgot-the-guard', async (req) => ({ user: principalOf(req).user }));
  return server.listen();
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('HTTP API guard with auth on', () => {
  it('needs credentials on /api/*, checks claims, keeps probes open, guards /metrics', async () => {
    const { url, wsUrl } = await start({ auth: { jwtSecret: SECRET, apiKeys: [API_KEY] } });
    const bystander = await Bystander.start(wsUrl, { headers: { authorization: `Bearer ${API_KEY}` } });
    const body = { channel: 'chat:lobby', data: 'hi' };

    const none = await http(`${url}/api/publish`, json(body));
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="wirehub"');
    expect(JSON.parse(none.body).error.code).toBe('unauthorized');
    const wrong = await http(
      `${url}/api/publish`,
      json(body, { authorization: 'Bearer not-a-real-key-0000000' }),
    );
    expect(wrong.status).toBe(401);
    // The query-string token is for WebSocket upgrades only.
    expect((await http(`${url}/api/publish?access_token=${await mintToken()}`, json(body))).status).toBe(401);

    const key = await http(`${url}/api/publish`, json(body, { authorization: `Bearer ${API_KEY}` }));
    expect(key.status).toBe(200);
    expect(JSON.parse(key.body)).toMatchObject({ ok: true, user: 'api-key:1' });

    const reader = await mintToken({ wirehub: { subscribe: ['chat:*'] } });
    const denied = await http(`${url}/api/publish`, json(body, { authorization: `Bearer ${reader}` }));
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).error).toMatchObject({
      code: 'forbidden',
      message: 'not allowed to publish "chat:lobby"',
    });
    const writer = await mintToken({ sub: 'bob', wirehub: { publish: ['chat:*'] } });
    const allowed = await http(`${url}/api/publish`, json(body, { authorization: `Bearer ${writer}` }));
    expect(JSON.parse(allowed.body)).toMatchObject({ ok: true, user: 'bob' });

    // Percent-encoded paths route to the same handler (find-my-way decodes), and meet the same guard.
    for (const path of ['/%61pi/publish', '/api/%70ublish']) {
      const r = await rawRequest(
        Number(new URL(url).port),
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      expect(statusOf(r), path).toBe(401);
    }

    expect((await http(`${url}/healthz`)).status).toBe(200);
    expect((await http(`${url}/readyz`)).status).toBe(200);
    expect((await http(`${url}/metrics`)).status).toBe(401);
    expect((await http(`${url}/metrics`, { headers: { authorization: `Bearer ${writer}` } })).status).toBe(
      403,
    );
    const scrape = await http(`${url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('wirehub_connections');
    const ops = await mintToken({ sub: 'prometheus', wirehub: { metrics: true } });
    expect((await http(`${url}/metrics`, { headers: { authorization: `Bearer ${ops}` } })).status).toBe(200);

    // server.guard() protects routes outside /api; a route without a guard cannot read a principal.
    expect((await http(`${url}/custom`)).status).toBe(401);
    expect((await http(`${url}/custom`, { headers: { authorization: `Bearer ${writer}` } })).status).toBe(
      403,
    );
    expect(
      JSON.parse((await http(`${url}/custom`, { headers: { authorization: `Bearer ${ops}` } })).body),
    ).toEqual({
      user: 'prometheus',
    });
    const forgot = await http(`${url}/forgot-the-guard`);
    expect(forgot.status).toBe(500);
    expect(JSON.parse(forgot.body).error.code).toBe('internal');
    expect(await bystander.stop()).toBeGreaterThan(0);
  });

  it('refuses __proto__ bodies and survives deeply nested ones', async () => {
    const { url } = await start({ auth: { apiKeys: [API_KEY] } });
    const auth = { authorization: `Bearer ${API_KEY}` };
    const proto = await http(
      `${url}/api/publish`,
      json('{"channel":"x","__proto__":{"polluted":true}}', auth),
    );
    expect(proto.status).toBe(400);
    expect(JSON.parse(proto.body).error.code).toBe('bad_request');
    const ctor = await http(
      `${url}/api/publish`,
      json('{"channel":"x","constructor":{"prototype":{"polluted":true}}}', auth),
    );
    expect(ctor.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = `{"channel":"x","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const r = await http(`${url}/api/publish`, json(deep, auth));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, keys: ['channel', 'data'] });
    expect((await http(`${url}/healthz`)).status).toBe(200);
  });

  it('makes /metrics public on request', async () => {
    const { url } = await start({ auth: { apiKeys: [API_KEY] }, publicMetrics: true });
    expect((await http(`${url}/metrics`)).status).toBe(200);
    expect((await http(`${url}/api/publish`, json({ channel: 'x' }))).status).toBe(401);
  });
});

describe('HTTP API with auth off', () => {
  it('lets anonymous callers through with the anonymous grants', async () => {
    const { url } = await start({ permissions: { anonymous: { subscribe: ['*'] } } });
    const denied = await http(`${url}/api/publish`, json({ channel: 'chat:lobby' }));
    expect(denied.status).toBe(403);
    await server?.close();
    const open = await start({});
    const r = await http(`${open.url}/api/publish`, json({ channel: 'chat:lobby' }));
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, user: null });
    expect((await http(`${open.url}/metrics`)).status).toBe(200);
  });
});
