import { createHmac } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { rawRequest, rawUpgrade, statusOf } from '../support/raw-http.js';
import { API_KEY, Bystander, http, mintToken, SECRET, unsignedToken } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * Forged, tampered, expired and misplaced credentials, each tried on both doors: the HTTP API
 * (and /metrics) and a WebSocket upgrade. Both refuse it the same way (401, same reason), and
 * a valid token passes both, so the refusals are not vacuous.
 */

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'wirehub';
const good = { aud: AUDIENCE, iss: ISSUER };
const now = () => Math.floor(Date.now() / 1000);

let srv: RunningServer;
let bystander: Bystander;
/** A server an attacker points `jku`/`x5u` at: it must never be asked. */
let attacker: Server;
let attackerUrl: string;
let attackerHits = 0;

beforeAll(async () => {
  srv = await startServer({
    auth: { jwtSecret: SECRET, jwtAudience: AUDIENCE, jwtIssuer: ISSUER, apiKeys: [API_KEY] },
  });
  bystander = await Bystander.start(srv.wsUrl, { headers: { authorization: `Bearer ${API_KEY}` } });
  attacker = createHttpServer((_req, res) => {
    attackerHits += 1;
    res.end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  await srv.close();
  await new Promise((resolve) => attacker.close(resolve));
});

/** Signs `claims` with `header` and `key` (HS256 with the server's secret unless told). */
async function sign(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'HS256' },
  key: Parameters<SignJWT['sign']>[0] = new TextEncoder().encode(SECRET),
): Promise<string> {
  return new SignJWT({ sub: 'mallory', exp: now() + 3600, ...claims })
    .setProtectedHeader(header as { alg: string })
    .sign(key);
}

interface Refusal {
  status: number;
  code: string;
  reason: string | undefined;
  challenge: unknown;
}

/** The HTTP API's answer to `authorization` on a publish. */
async function viaHttp(headers: Record<string, string>, path = '/api/publish'): Promise<Refusal> {
  const r = await http(`${srv.url}${path}`, {
    method: path === '/api/publish' ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json', ...headers },
    body: path === '/api/publish' ? JSON.stringify({ channel: 'chat:lobby', data: 'x' }) : undefined,
  });
  const error = r.status === 200 ? undefined : JSON.parse(r.body).error;
  return {
    status: r.status,
    code: error?.code,
    reason: error?.details?.reason,
    challenge: r.headers['www-authenticate'],
  };
}

/** The upgrade gate's answer to the same credentials on `/echo`. */
async function viaUpgrade(headers: Record<string, string>, query = ''): Promise<Refusal> {
  try {
    const c = await TestClient.connect(`${srv.wsUrl}/echo${query}`, { headers });
    c.ws.terminate();
    return { status: 101, code: '', reason: undefined, challenge: undefined };
  } catch {
    const r = await TestClient.refused(`${srv.wsUrl}/echo${query}`, { headers });
    const error = JSON.parse(r.body).error;
    return { status: r.status, code: error.code, reason: error.details?.reason, challenge: undefined };
  }
}

async function expectRefusedOnBothDoors(token: string, reason: string, what: string): Promise<void> {
  const headers = { authorization: `Bearer ${token}` };
  const h = await viaHttp(headers);
  expect(h, `${what} (HTTP)`).toEqual({
    status: 401,
    code: 'unauthorized',
    reason,
    challenge: 'Bearer realm="wirehub"',
  });
  expect((await viaHttp(headers, '/metrics')).status, `${what} (/metrics)`).toBe(401);
  const u = await viaUpgrade(headers);
  expect(u, `${what} (upgrade)`).toMatchObject({ status: 401, code: 'unauthorized', reason });
  // The browser way in: the same token in ?access_token= on the upgrade.
  const q = await viaUpgrade({}, `?access_token=${encodeURIComponent(token)}`);
  expect(q, `${what} (upgrade, query)`).toMatchObject({ status: 401, reason });
}

describe('forged tokens, on the HTTP API and the upgrade alike', () => {
  it('a valid token passes both doors (the control)', async () => {
    const token = await mintToken(good);
    expect((await viaHttp({ authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await viaUpgrade({ authorization: `Bearer ${token}` })).status).toBe(101);
    // The scheme is case-insensitive (RFC 7235).
    expect((await viaHttp({ authorization: `bearer ${token}` })).status).toBe(200);
  });

  it('alg none, HS512 with the right secret, and RS256 for an HS-only server → algorithm', async () => {
    await expectRefusedOnBothDoors(unsignedToken(good), 'algorithm', 'alg none');
    const noneUpper = `${Buffer.from('{"alg":"NONE"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...good, sub: 'x', exp: now() + 60 })).toString('base64url')}.`;
    expect((await viaHttp({ authorization: `Bearer ${noneUpper}` })).status).toBe(401);
    await expectRefusedOnBothDoors(await sign(good, { alg: 'HS512' }), 'algorithm', 'HS512');
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const rs = await sign(
      good,
      { alg: 'RS256', kid: 'attacker', jku: `${attackerUrl}/jwks.json`, jwk: await exportJWK(publicKey) },
      privateKey,
    );
    await expectRefusedOnBothDoors(rs, 'algorithm', 'RS256 with jku and an embedded jwk');
    // Nobody fetched the key set the token pointed at.
    expect(attackerHits).toBe(0);
  });

  it('a wrong key or a tampered payload → bad_signature', async () => {
    await expectRefusedOnBothDoors(
      await mintToken(good, { secret: 'another-secret-that-is-long-enough-xyz' }),
      'bad_signature',
      'wrong key',
    );
    const [h, , s] = (await mintToken({ ...good, sub: 'alice' })).split('.');
    const payload = Buffer.from(JSON.stringify({ ...good, sub: 'root', exp: now() + 3600, wirehub: {} }));
    await expectRefusedOnBothDoors(`${h}.${payload.toString('base64url')}.${s}`, 'bad_signature', 'tampered');
    // The signature of another (valid) token glued on: still no.
    const other = (await mintToken({ ...good, sub: 'bob' })).split('.')[2];
    await expectRefusedOnBothDoors(
      `${h}.${payload.toString('base64url')}.${other}`,
      'bad_signature',
      'glued',
    );
  });

  it('expired, not yet valid, without exp, or exp not a number → expired / claim', async () => {
    await expectRefusedOnBothDoors(await mintToken(good, { exp: now() - 5 }), 'expired', 'expired');
    await expectRefusedOnBothDoors(await sign({ ...good, nbf: now() + 600 }), 'claim', 'nbf in the future');
    await expectRefusedOnBothDoors(await mintToken(good, { exp: undefined }), 'claim', 'no exp');
    await expectRefusedOnBothDoors(
      await sign({ ...good, exp: `${now() + 600}` }),
      'claim',
      'exp as a string',
    );
  });

  it('another audience or issuer, or none → claim', async () => {
    for (const claims of [
      { ...good, aud: 'other-service' },
      { ...good, aud: [] },
      { iss: ISSUER },
      { aud: AUDIENCE },
      { ...good, iss: 'https://evil.test' },
    ]) {
      await expectRefusedOnBothDoors(await sign(claims), 'claim', JSON.stringify(claims));
    }
  });

  it('an unknown critical header or garbage → malformed / algorithm, never a 500', async () => {
    // Signed by hand: jose itself refuses to sign with a critical header it does not know.
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${part({ alg: 'HS256', crit: ['x-wirehub'], 'x-wirehub': 1 })}.${part({ ...good, sub: 'x', exp: now() + 600 })}`;
    const crit = `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    const c = await viaHttp({ authorization: `Bearer ${crit}` });
    expect(c).toMatchObject({ status: 401, code: 'unauthorized' });
    for (const token of [
      'x',
      'a.b.c',
      'e30.e30.e30',
      '....',
      `${'A'.repeat(4000)}.e30.`,
      '%00',
      '\u00e9t\u00e9',
    ]) {
      const h = await viaHttp({ authorization: `Bearer ${encodeURIComponent(token)}` });
      expect(h.status, token).toBe(401);
      const u = await viaUpgrade({ authorization: `Bearer ${encodeURIComponent(token)}` });
      expect(u.status, token).toBe(401);
    }
  });

  it('an API key with a byte changed, cut short or padded → bad_key or malformed', async () => {
    for (const key of [
      `${API_KEY.slice(0, -1)}X`,
      API_KEY.slice(0, -1),
      `${API_KEY} `,
      `${API_KEY}0`,
      API_KEY.toUpperCase(),
    ]) {
      const h = await viaHttp({ authorization: `Bearer ${key}` });
      // `Bearer <key> ` (trailing space) is the key itself: a header's trailing blanks are not part of it.
      if (key === `${API_KEY} `) expect(h.status).toBe(200);
      else expect(h.status, key).toBe(401);
    }
  });

  it('an oversize token: 431 headers_too_large on both doors, in the catalog shape', async () => {
    const huge = `Authorization: Bearer ${'a'.repeat(40_000)}\r\n`;
    const h = await rawRequest(srv.port, `GET /api/runs HTTP/1.1\r\nHost: x\r\n${huge}\r\n`);
    expect(statusOf(h)).toBe(431);
    expect(h).toContain('"code":"headers_too_large"');
    const u = await rawUpgrade(srv.port, '/echo', huge);
    expect(statusOf(u)).toBe(431);
    expect(u).toContain('"code":"headers_too_large"');
  });
});

describe('a valid token in the wrong place', () => {
  it('is refused by the HTTP API: query string, cookie, another scheme or header, the body', async () => {
    const token = await mintToken(good);
    const body = JSON.stringify({ channel: 'chat:lobby', data: 'x', access_token: token });
    for (const [where, request] of [
      ['query', { url: `/api/publish?access_token=${token}`, headers: {} }],
      ['cookie', { url: '/api/publish', headers: { cookie: `access_token=${token}; token=${token}` } }],
      [
        'Basic',
        {
          url: '/api/publish',
          headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` },
        },
      ],
      ['Token scheme', { url: '/api/publish', headers: { authorization: `Token ${token}` } }],
      ['no scheme', { url: '/api/publish', headers: { authorization: token } }],
      ['two tokens', { url: '/api/publish', headers: { authorization: `Bearer ${token} ${token}` } }],
      ['empty Bearer', { url: '/api/publish', headers: { authorization: 'Bearer ' } }],
      ['X-Access-Token', { url: '/api/publish', headers: { 'x-access-token': token } }],
      ['Proxy-Authorization', { url: '/api/publish', headers: { 'proxy-authorization': `Bearer ${token}` } }],
    ] as const) {
      const r = await http(`${srv.url}${request.url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...request.headers },
        body,
      });
      expect(r.status, where).toBe(401);
      expect(JSON.parse(r.body).error, where).toMatchObject({
        code: 'unauthorized',
        details: { reason: 'missing' },
      });
    }
  });

  it('is refused by the upgrade: cookie, subprotocol, another scheme', async () => {
    const token = await mintToken(good);
    expect((await viaUpgrade({ cookie: `access_token=${token}` })).status).toBe(401);
    expect((await viaUpgrade({ authorization: `Basic ${token}` })).status).toBe(401);
    const asProtocol = await TestClient.refused(`${srv.wsUrl}/echo`, { protocol: token });
    expect(asProtocol.status).toBe(401);
    // A query parameter of another name is no token either.
    expect((await viaUpgrade({}, `?token=${token}`)).status).toBe(401);
  });
});
