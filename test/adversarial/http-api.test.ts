import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type ServerOptions, type WirehubServer } from '../../src/index.js';
import { principalOf } from '../../src/server/security/http-guard.js';
import { TestClient } from '../support/client.js';
import { rawRequest, statusOf } from '../support/raw-http.js';
import { API_KEY, Bystander, http, mintToken, SECRET } from '../support/security.js';
import { tempDir } from '../support/server.js';

let server: WirehubServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * A server with its real channel API (`/api/publish`, history, presence), an extra API route
 * that says what it parsed (for the body tests), and two routes outside `/api`.
 */
async function start(options: ServerOptions) {
  server = await createServer({
    port: 0,
    logLevel: 'silent',
    defaultMetrics: false,
    dataDir: tempDir(),
    ...options,
  });
  server.http.post('/api/test/parsed', async (req) => ({
    user: principalOf(req).user ?? null,
    keys: Object.keys(req.body as object),
  }));
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

    // A chat client (itself authenticated) hears what the API publishes.
    const room = await TestClient.connect(`${wsUrl}/chat/lobby`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const key = await http(`${url}/api/publish`, json(body, { authorization: `Bearer ${API_KEY}` }));
    expect(key.status).toBe(200);
    expect(JSON.parse(key.body)).toMatchObject({ channel: 'chat:lobby' });
    expect(await room.next()).toBe('hi');

    const reader = await mintToken({ wirehub: { subscribe: ['chat:*'] } });
    const denied = await http(`${url}/api/publish`, json(body, { authorization: `Bearer ${reader}` }));
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).error).toMatchObject({
      code: 'forbidden',
      message: 'not allowed to publish "chat:lobby"',
    });
    const writer = await mintToken({ sub: 'bob', wirehub: { publish: ['chat:*'] } });
    const allowed = await http(
      `${url}/api/publish`,
      json({ ...body, data: 'from bob' }, { authorization: `Bearer ${writer}` }),
    );
    expect(allowed.status).toBe(200);
    expect(await room.next()).toBe('from bob');
    room.ws.terminate();

    // History and presence need their own grants.
    const history = `${url}/api/channels/chat:lobby/history`;
    const presence = `${url}/api/channels/chat:lobby/presence`;
    expect((await http(history, { headers: { authorization: `Bearer ${writer}` } })).status).toBe(403);
    expect((await http(presence, { headers: { authorization: `Bearer ${writer}` } })).status).toBe(403);
    const historian = await mintToken({ wirehub: { history: ['chat:*'], presence: ['chat:lobby'] } });
    const page = await http(history, { headers: { authorization: `Bearer ${historian}` } });
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body).publications.map((p: { data: unknown }) => p.data)).toEqual([
      'hi',
      'from bob',
    ]);
    expect((await http(presence, { headers: { authorization: `Bearer ${historian}` } })).status).toBe(200);
    expect(
      (
        await http(`${url}/api/channels/chat:other/presence`, {
          headers: { authorization: `Bearer ${historian}` },
        })
      ).status,
    ).toBe(403);

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

  it('refuses __proto__ bodies and deeply nested ones, on routes of its own too', async () => {
    const { url } = await start({ auth: { apiKeys: [API_KEY] } });
    const auth = { authorization: `Bearer ${API_KEY}` };
    const proto = await http(
      `${url}/api/test/parsed`,
      json('{"channel":"x","__proto__":{"polluted":true}}', auth),
    );
    expect(proto.status).toBe(400);
    expect(JSON.parse(proto.body).error.code).toBe('invalid_message');
    const ctor = await http(
      `${url}/api/test/parsed`,
      json('{"channel":"x","constructor":{"prototype":{"polluted":true}}}', auth),
    );
    expect(ctor.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Parsing it was never the problem; serialising it again later was (issue 12).
    const deep = `{"channel":"x","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const r = await http(`${url}/api/test/parsed`, json(deep, auth));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.code).toBe('json_too_deep');
    const fine = await http(`${url}/api/test/parsed`, json('{"channel":"x","data":[[1]]}', auth));
    expect(JSON.parse(fine.body)).toEqual({ user: 'api-key:1', keys: ['channel', 'data'] });
    expect((await http(`${url}/healthz`)).status).toBe(200);
  });

  it('makes /metrics public on request', async () => {
    const { url } = await start({ auth: { apiKeys: [API_KEY] }, publicMetrics: true });
    expect((await http(`${url}/metrics`)).status).toBe(200);
    expect((await http(`${url}/api/publish`, json({ channel: 'x' }))).status).toBe(401);
  });
});

describe('HTTP API with auth off', () => {
  it('answers this machine only, with the anonymous grants', async () => {
    const { url } = await start({ permissions: { anonymous: { subscribe: ['*'] } } });
    const denied = await http(`${url}/api/publish`, json({ channel: 'chat:lobby', data: 'x' }));
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).error.message).toBe('not allowed to publish "chat:lobby"');
    await server?.close();

    const open = await start({ trustProxy: ['loopback'] });
    const r = await http(`${open.url}/api/publish`, json({ channel: 'chat:lobby', data: 'x' }));
    expect(r.status).toBe(200);
    expect(JSON.parse((await http(`${open.url}/api/test/parsed`, json({ a: 1 }))).body)).toEqual({
      user: null,
      keys: ['a'],
    });
    // A remote client behind a trusted local proxy is still remote.
    const remote = await http(`${open.url}/api/publish`, {
      ...json({ channel: 'chat:lobby', data: 'x' }),
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
    });
    expect(remote.status).toBe(403);
    expect(JSON.parse(remote.body).error.details).toEqual({ reason: 'loopback_only' });
    expect((await http(`${open.url}/metrics`)).status).toBe(200);
  });
});
