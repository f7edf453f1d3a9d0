import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { Bystander, http, mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

/** A fresh self-signed certificate for 127.0.0.1, made here with openssl (no network). */
function selfSignedCertificate(): { certFile: string; keyFile: string; cert: Buffer; key: Buffer } {
  const dir = tempDir();
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=wirehub test',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

const tls = selfSignedCertificate();

describe('TLS served directly', () => {
  let srv: RunningServer;
  let bystander: Bystander;

  beforeAll(async () => {
    srv = await startServer({ tls: { cert: tls.cert, key: tls.key } });
    bystander = await Bystander.start(srv.wsUrl, { ca: tls.cert });
  });

  afterAll(async () => {
    expect(await bystander.stop()).toBeGreaterThan(0);
    await srv.close();
  });

  it('serves https and wss with the given certificate', async () => {
    expect(srv.url).toMatch(/^https:\/\//);
    expect(srv.wsUrl).toMatch(/^wss:\/\//);
    expect((await http(`${srv.url}/healthz`, { ca: tls.cert })).status).toBe(200);
    const c = await TestClient.connect(`${srv.wsUrl}/echo`, { ca: tls.cert });
    await c.send('over tls');
    expect(await c.next()).toBe('Echo: over tls');
    c.ws.terminate();
  });

  it('is refused by clients that do not trust the certificate, and ignores plaintext, staying up', async () => {
    await expect(TestClient.connect(`${srv.wsUrl}/echo`)).rejects.toThrow(/self[- ]signed|certificate/i);
    await expect(TestClient.connect(srv.wsUrl.replace(/^wss:/, 'ws:'))).rejects.toThrow();
    await bystander.checkpoint();
    expect((await http(`${srv.url}/healthz`, { ca: tls.cert })).status).toBe(200);
  });
});

describe('wirehub serve --tls-cert --tls-key', () => {
  it('serves wss with auth from the environment', async () => {
    const cli = await startCliServer(['--tls-cert', tls.certFile, '--tls-key', tls.keyFile], {
      WIREHUB_JWT_SECRET: SECRET,
    });
    try {
      expect(cli.url).toMatch(/^https:\/\//);
      const token = await mintToken();
      const c = await TestClient.connect(`${cli.wsUrl}/echo?access_token=${token}`, { ca: tls.cert });
      await c.send('cli');
      expect(await c.next()).toBe('Echo: cli');
      c.ws.terminate();
      const r = await TestClient.refused(`${cli.wsUrl}/echo`, { ca: tls.cert });
      expect(r.status).toBe(401);
      // Auth is on, so the start-up log has no "auth is off" warning.
      expect(cli.output()).not.toContain('auth is off');
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});
