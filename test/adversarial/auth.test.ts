import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { rawUpgrade, statusOf } from '../support/raw-http.js';
import { API_KEY, Bystander, http, mintToken, SECRET, unsignedToken } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;
let bystander: Bystander;

beforeAll(async () => {
  srv = await startServer({
    auth: { jwtSecret: SECRET, jwtAudience: 'wirehub', jwtIssuer: 'https://issuer.test', apiKeys: [API_KEY] },
    permissions: {
      roles: {
        chatter: { endpoints: ['chat', 'ws'], subscribe: ['chat:*', 'ws'], publish: ['chat:*', 'ws'] },
        // The chat endpoint without a grant on the room's channel opens nothing.
        endpointOnly: { endpoints: ['chat'] },
      },
    },
  });
  bystander = await Bystander.start(srv.wsUrl, { headers: { authorization: `Bearer ${API_KEY}` } });
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  await srv.close();
});

const good = { aud: 'wirehub', iss: 'https://issuer.test' };

/** The refusal of an upgrade, as the documented 401 says it. */
async function refusedWith(url: string, headers: Record<string, string> = {}) {
  const r = await TestClient.refused(url, { headers });
  await bystander.checkpoint();
  return {
    status: r.status,
    error: JSON.parse(r.body).error as { code: string; message: string; details?: { reason?: string } },
  };
}

describe('credentials at the upgrade', () => {
  it('no token → 401 with a challenge, no socket', async () => {
    const r = await refusedWith(`${srv.wsUrl}/echo`);
    expect(r).toMatchObject({ status: 401, error: { code: 'unauthorized', details: { reason: 'missing' } } });
    expect(r.error.message).toMatch(/Authorization: Bearer/);
    const raw = await rawUpgrade(srv.port, '/echo');
    expect(statusOf(raw)).toBe(401);
    expect(raw).toMatch(/WWW-Authenticate: Bearer realm="wirehub"/i);
    expect(srv.server.connectionCount).toBe(1); // only the bystander
  });

  it('bad signature → 401', async () => {
    const forged = await mintToken(good, { secret: 'another-secret-that-is-long-enough-xyz' });
    const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${forged}` });
    expect(r).toMatchObject({
      status: 401,
      error: { code: 'unauthorized', details: { reason: 'bad_signature' } },
    });
    // A token whose payload was edited after signing fails the same way.
    const [h, , s] = (await mintToken(good)).split('.');
    const edited = `${h}.${Buffer.from(JSON.stringify({ ...good, sub: 'root', exp: 9e9 })).toString('base64url')}.${s}`;
    expect((await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${edited}` })).status).toBe(401);
  });

  it('alg: none → 401', async () => {
    const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${unsignedToken(good)}` });
    expect(r).toMatchObject({
      status: 401,
      error: { code: 'unauthorized', details: { reason: 'algorithm' } },
    });
  });

  it('expired → 401', async () => {
    const expired = await mintToken(good, { exp: Math.floor(Date.now() / 1000) - 60 });
    const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${expired}` });
    expect(r).toMatchObject({
      status: 401,
      error: { code: 'unauthorized', message: 'the token has expired' },
    });
  });

  it('a token without exp → 401 (exp is required)', async () => {
    const forever = await mintToken(good, { exp: undefined });
    const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${forever}` });
    expect(r).toMatchObject({ status: 401, error: { message: 'the token has no "exp" claim' } });
  });

  it('wrong audience or issuer → 401', async () => {
    for (const claims of [
      { ...good, aud: 'other-service' },
      { iss: 'https://issuer.test' },
      { ...good, iss: 'https://evil.test' },
    ]) {
      const token = await mintToken(claims);
      const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${token}` });
      expect(r, JSON.stringify(claims)).toMatchObject({
        status: 401,
        error: { code: 'unauthorized', details: { reason: 'claim' } },
      });
    }
  });

  it('garbage tokens and unknown API keys → 401', async () => {
    for (const token of ['x', 'a.b.c', 'not-a-key-but-long-enough-123', '....', 'e30.e30.e30']) {
      const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${token}` });
      expect(r.status, token).toBe(401);
    }
  });

  it('accepts a valid token in the header or the access_token query parameter, and an API key', async () => {
    const token = await mintToken(good);
    const viaHeader = await TestClient.connect(`${srv.wsUrl}/echo`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const viaQuery = await TestClient.connect(`${srv.wsUrl}/echo?access_token=${token}`);
    const viaKey = await TestClient.connect(`${srv.wsUrl}/echo`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    for (const c of [viaHeader, viaQuery, viaKey]) {
      await c.send('hi');
      expect(await c.next()).toBe('Echo: hi');
      c.ws.terminate();
    }
    // The endpoint never sees the token: /stream reads its query and must not choke on it.
    const stream = await TestClient.connect(`${srv.wsUrl}/stream?interval=50&access_token=${token}`);
    expect(JSON.parse(String(await stream.next()))).toHaveProperty('value');
    stream.ws.terminate();
  });

  it('closes a connection with 4001 when its token expires', async () => {
    const token = await mintToken(good, { exp: Math.floor(Date.now() / 1000) + 1 });
    const c = await TestClient.connect(`${srv.wsUrl}/echo`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await c.send('before');
    expect(await c.next()).toBe('Echo: before');
    expect(await c.closed).toEqual({ code: 4001, reason: 'token expired' });
    await bystander.checkpoint();
  });
});

describe('endpoint permissions', () => {
  it('refuses endpoints the token does not grant with 403, allows those it does', async () => {
    const echoOnly = await mintToken({ ...good, wirehub: { endpoints: ['echo'] } });
    const r = await refusedWith(`${srv.wsUrl}/chat/lobby`, { authorization: `Bearer ${echoOnly}` });
    expect(r).toMatchObject({
      status: 403,
      error: { code: 'forbidden', message: 'not allowed to endpoint "chat"' },
    });
    const ok = await TestClient.connect(`${srv.wsUrl}/echo`, {
      headers: { authorization: `Bearer ${echoOnly}` },
    });
    ok.ws.terminate();
  });

  it('grants through roles from the permissions config', async () => {
    const chatter = await mintToken({ ...good, roles: ['chatter'] });
    const headers = { authorization: `Bearer ${chatter}` };
    const c = await TestClient.connect(`${srv.wsUrl}/chat/lobby`, { headers });
    c.ws.terminate();
    expect((await refusedWith(`${srv.wsUrl}/echo`, headers)).status).toBe(403);
    const endpointOnly = await mintToken({ ...good, roles: ['endpointOnly'] });
    expect(
      await refusedWith(`${srv.wsUrl}/chat/lobby`, { authorization: `Bearer ${endpointOnly}` }),
    ).toMatchObject({ status: 403, error: { message: 'not allowed to subscribe "chat:lobby"' } });
    // A role name that is a prototype key grants nothing.
    const sneaky = await mintToken({ ...good, roles: ['__proto__', 'constructor'] });
    expect((await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${sneaky}` })).status).toBe(403);
  });

  it('refuses a token whose grants claim is malformed with 401', async () => {
    const bad = await mintToken({ ...good, wirehub: { endpoints: 'echo' } });
    const r = await refusedWith(`${srv.wsUrl}/echo`, { authorization: `Bearer ${bad}` });
    expect(r).toMatchObject({ status: 401, error: { code: 'unauthorized' } });
  });

  it('counts refusals by status in /metrics and stays healthy', async () => {
    expect((await http(`${srv.url}/healthz`)).status).toBe(200);
    const metrics = await http(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(metrics.body).toMatch(/wirehub_upgrade_rejections_total\{status="401"\} [1-9]/);
    expect(metrics.body).toMatch(/wirehub_upgrade_rejections_total\{status="403"\} [1-9]/);
  });
});
