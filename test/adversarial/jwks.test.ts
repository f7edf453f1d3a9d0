import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { Bystander, mintToken } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

const ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
type Alg = (typeof ALGS)[number];
const keys = new Map<Alg, { privateKey: CryptoKey; publicKey: CryptoKey; jwk: JWK }>();
let jwksFile: string;
let jwksHost: Server;
let jwksUrl: string;
let jwksFetches = 0;

beforeAll(async () => {
  for (const alg of ALGS) {
    const pair = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: `key-${alg}`, alg };
    keys.set(alg, { ...pair, jwk });
  }
  const set = { keys: [...keys.values()].map((k) => k.jwk) };
  jwksFile = join(tempDir(), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(set));
  // A JWKS URL served locally, as an identity provider would.
  jwksHost = createHttpServer((_req, res) => {
    jwksFetches += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(set));
  });
  await new Promise<void>((r) => jwksHost.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwksHost.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  await new Promise((r) => jwksHost.close(r));
});

async function sign(alg: Alg, claims: Record<string, unknown> = {}, kid = `key-${alg}`): Promise<string> {
  const key = keys.get(alg);
  if (!key) throw new Error(alg);
  return new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg, kid })
    .setExpirationTime('1h')
    .sign(key.privateKey);
}

for (const source of ['file', 'url'] as const) {
  describe(`JWKS from a ${source}`, () => {
    let srv: RunningServer;
    let bystander: Bystander;

    beforeAll(async () => {
      srv = await startServer({
        auth: { jwks: source === 'file' ? jwksFile : jwksUrl, jwtAudience: 'wirehub' },
      });
      bystander = await Bystander.start(srv.wsUrl, {
        headers: { authorization: `Bearer ${await sign('ES256', { aud: 'wirehub' })}` },
      });
    });

    afterAll(async () => {
      expect(await bystander.stop()).toBeGreaterThan(0);
      await srv.close();
    });

    it('accepts RS256, ES256 and EdDSA tokens signed by its keys', async () => {
      for (const alg of ALGS) {
        const c = await TestClient.connect(`${srv.wsUrl}/echo`, {
          headers: { authorization: `Bearer ${await sign(alg, { aud: 'wirehub' })}` },
        });
        await c.send(alg);
        expect(await c.next()).toBe(`Echo: ${alg}`);
        c.ws.terminate();
      }
      if (source === 'url') expect(jwksFetches).toBeGreaterThan(0);
    });

    it('refuses an unknown key, another key of the set, wrong audience, and HS256 (no secret configured)', async () => {
      const stranger = await generateKeyPair('ES256');
      const cases = {
        unknownKey: await new SignJWT({ aud: 'wirehub' })
          .setProtectedHeader({ alg: 'ES256', kid: 'key-ES256' })
          .setExpirationTime('1h')
          .sign(stranger.privateKey),
        wrongKid: await sign('ES256', { aud: 'wirehub' }, 'key-nope'),
        wrongAudience: await sign('RS256', { aud: 'someone-else' }),
        hs256: await mintToken({ aud: 'wirehub' }),
      };
      for (const [name, token] of Object.entries(cases)) {
        const r = await TestClient.refused(`${srv.wsUrl}/echo`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(r.status, name).toBe(401);
        expect(JSON.parse(r.body).error.code, name).toBe('unauthorized');
        await bystander.checkpoint();
      }
    });

    it('refuses algorithm confusion: an HS256 token keyed with the public key', async () => {
      const rsa = keys.get('RS256');
      if (!rsa) throw new Error('no RS256 key');
      const pem = await exportSPKI(rsa.publicKey);
      const confused = await mintToken({ aud: 'wirehub' }, { secret: pem, kid: 'key-RS256' });
      const r = await TestClient.refused(`${srv.wsUrl}/echo`, {
        headers: { authorization: `Bearer ${confused}` },
      });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body).error.details.reason).toBe('algorithm');
    });
  });
}
