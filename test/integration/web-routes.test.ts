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

describe('icon, admin pages and 404 pages', () => {
  it('answers /favicon.ico and /favicon.svg with the icon, and every page links it', async () => {
    const srv = await start();
    const ico = await fetch(`${srv.url}/favicon.ico`);
    expect(ico.status).toBe(200);
    expect(ico.headers.get('content-type')).toBe('image/x-icon');
    const bytes = Buffer.from(await ico.arrayBuffer());
    // An ICO header (reserved 0, type 1, one image) holding a PNG.
    expect([...bytes.subarray(0, 6)]).toEqual([0, 0, 1, 0, 1, 0]);
    expect(bytes.subarray(22, 26).toString('latin1')).toBe('\x89PNG');
    const svg = await fetch(`${srv.url}/favicon.svg`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(await svg.text()).toContain('<svg');
    for (const path of ['/', '/admin/connections']) {
      expect(await (await fetch(`${srv.url}${path}`)).text(), path).toContain(
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">',
      );
    }
  });

  it("serves the admin pages as the dashboard page, under the pages' policy", async () => {
    const srv = await start();
    for (const name of ['connections', 'channels', 'nodes']) {
      const res = await fetch(`${srv.url}/admin/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await res.text()).toContain(`id="admin-${name}"`);
    }
  });

  it('answers an unknown page with a styled HTML 404 and a link home, and the API with the catalog 404', async () => {
    const srv = await start({ tasks: { poolSize: 1 } });
    const html = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    for (const path of ['/nope', '/admin/nope', '/runs/r-%3Cscript%3E']) {
      const res = await fetch(`${srv.url}${path}`, { headers: html });
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      // The pages' policy, so the page gets its stylesheet.
      expect(res.headers.get('content-security-policy')).toContain("style-src 'self'");
      const body = await res.text();
      expect(body).toContain('<a id="home" class="home" href="/">');
      expect(body).toContain('<link rel="stylesheet" href="/assets/run.css">');
      expect(body).not.toContain('<script>');
    }
    const named = await (await fetch(`${srv.url}/nope%3Cb%3E`, { headers: html })).text();
    expect(named).toContain('There is no page at /nope%3Cb%3E.');
    // A run id is shown decoded, and escaped.
    const run = await (await fetch(`${srv.url}/runs/r-%3Cscript%3E`, { headers: html })).text();
    expect(run).toContain('There is no run r-&#60;script&#62;.');

    // JSON clients, the API and other methods keep the catalog shape.
    for (const [path, headers, method] of [
      ['/nope', { accept: 'application/json' }, 'GET'],
      ['/nope', {}, 'GET'],
      ['/api/nope', html, 'GET'],
      ['/nope', html, 'POST'],
    ] as const) {
      const res = await fetch(`${srv.url}${path}`, { headers, method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    const wrongMethod = await fetch(`${srv.url}/admin/nodes`, { method: 'DELETE', headers: html });
    expect(wrongMethod.status).toBe(405);
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
