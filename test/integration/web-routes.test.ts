import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type * as Sdk from '../../src/client/index.js';
import { TestClient } from '../support/client.js';
import { API_KEY, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const srv = await startServer({ tasks: false, ...options });
  servers.push(srv);
  return srv;
}

describe('dashboard and assets', () => {
  it('serves the dashboard at / and its scripts under /assets/', async () => {
    const srv = await start();
    const page = await fetch(`${srv.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/assets/dashboard.js"></script>');

    const dashboard = await fetch(`${srv.url}/assets/dashboard.js`);
    expect(dashboard.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    // The dashboard uses the served SDK rather than a copy of its own.
    expect(await dashboard.text()).toContain('from"/assets/wirehub-client.js"');
    expect((await fetch(`${srv.url}/assets/dashboard.css`)).status).toBe(200);
    expect((await fetch(`${srv.url}/assets/wirehub-client.js.map`)).status).toBe(200);
  });

  it('serves the SDK as one self-contained ES module that works on its own', async () => {
    const srv = await start();
    const res = await fetch(`${srv.url}/assets/wirehub-client.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const source = await res.text();
    // Imported from a data: URL, where no import could resolve: zod and the protocol are inside.
    const sdk = (await import(
      `data:text/javascript;base64,${Buffer.from(source).toString('base64')}`
    )) as typeof Sdk;
    const client = new sdk.WirehubClient({ url: srv.wsUrl, WebSocket });
    try {
      const got: unknown[] = [];
      await client.subscribe('chat:bundle', (pub) => got.push(pub.data));
      await client.publish('chat:bundle', 'from the bundle');
      await expect.poll(() => got).toEqual(['from the bundle']);
      const err = await client.history('broadcast').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(sdk.WirehubError);
      expect(err).toMatchObject({ code: 'not_enabled' });
    } finally {
      await client.close();
    }
  });

  it('serves nothing but its fixed list of assets', async () => {
    const srv = await start();
    for (const path of [
      '/assets/nope.js',
      '/assets/..%2Fpackage.json',
      '/assets/%2e%2e%2fserver%2fmetrics.js',
    ]) {
      const res = await fetch(`${srv.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
  });
});

describe('GET /api/status', () => {
  it('counts connections and messages per endpoint', async () => {
    const srv = await start();
    const echo = await TestClient.connect(`${srv.wsUrl}/echo`);
    try {
      await echo.send('one');
      await echo.next();
      const res = await fetch(`${srv.url}/api/status`);
      expect(res.status).toBe(200);
      const status = (await res.json()) as Record<string, unknown>;
      expect(status).toMatchObject({
        status: 'ready',
        auth: false,
        tasks: false,
        connections: 1,
        uptime_ms: expect.any(Number),
        endpoints: { echo: { connections: 1, accepted: 1, messages_in: 1, messages_out: 1 } },
      });
    } finally {
      echo.ws.terminate();
    }
  });

  it('needs credentials with the metrics grant when auth is on', async () => {
    const srv = await start({
      auth: { jwtSecret: SECRET, apiKeys: [API_KEY] },
      permissions: { authenticated: { endpoints: ['*'] } },
    });
    expect((await fetch(`${srv.url}/api/status`)).status).toBe(401);
    const { mintToken } = await import('../support/security.js');
    const plain = await fetch(`${srv.url}/api/status`, {
      headers: { authorization: `Bearer ${await mintToken({ sub: 'bob' })}` },
    });
    expect(plain.status).toBe(403);
    const key = await fetch(`${srv.url}/api/status`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(key.status).toBe(200);
    expect(await key.json()).toMatchObject({ auth: true });
  });
});
