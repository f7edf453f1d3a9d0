import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, defineEndpoint, Frame, principalOf, type ServerOptions } from '../../src/index.js';
import { startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { rawUpgrade, statusOf } from '../support/raw-http.js';
import { RemoteHost } from '../support/remote-host.js';
import { RtClient } from '../support/rt-client.js';
import { API_KEY, http } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

/**
 * One rule for callers without credentials (auth off), the same on both surfaces: other
 * machines get the guide's plain endpoints and the pages; everything else answers this
 * machine only. The "other machine" is a network namespace (RemoteHost): the server sees
 * its connections come from a non-loopback address, as from a client on the network.
 */

let remote: RemoteHost;
const servers: RunningServer[] = [];

beforeAll(() => {
  remote = RemoteHost.create();
});

afterAll(() => {
  remote?.close();
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A public server (0.0.0.0) with a custom endpoint and a guarded route of its own. */
async function startPublic(options: ServerOptions = {}) {
  const server = await createServer({
    host: '0.0.0.0',
    allowPublicWithoutAuth: true,
    port: 0,
    logLevel: 'silent',
    dataDir: tempDir(),
    defaultMetrics: false,
    tasks: { poolSize: 1 },
    endpoints: [
      defineEndpoint({
        path: '/time',
        name: 'time',
        open: (session) => {
          session.send(Frame.text('now'));
          return {};
        },
      }),
    ],
    ...options,
  });
  server.http.get('/admin/whoami', { onRequest: server.guard() }, async (req) => ({
    user: principalOf(req).user ?? null,
  }));
  const address = await server.listen();
  const srv = { ...address, server, close: () => server.close() };
  servers.push(srv);
  const local = `127.0.0.1:${srv.port}`;
  return {
    srv,
    local: { url: `http://${local}`, wsUrl: `ws://${local}` },
    away: await remote.relayTo(srv.port),
  };
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

function loopbackOnly(r: { status: number; body: string }) {
  expect(r.status).toBe(403);
  expect(JSON.parse(r.body).error).toMatchObject({ code: 'forbidden', details: { reason: 'loopback_only' } });
}

describe('with auth off, callers from another machine', () => {
  it('use the guide’s plain endpoints', async () => {
    const { away } = await startPublic();
    const echo = await TestClient.connect(`${away.wsUrl}/echo`);
    await echo.send('hi');
    expect(await echo.next()).toBe('Echo: hi');
    const a = await TestClient.connect(`${away.wsUrl}/chat/lobby`);
    const b = await TestClient.connect(`${away.wsUrl}/chat/lobby`);
    await a.send('hello room');
    expect(await b.next()).toBe('hello room');
    const basic = await TestClient.connect(`${away.wsUrl}/ws`);
    expect(await basic.nextJson()).toMatchObject({ type: 'system' });
    const broadcast = await TestClient.connect(`${away.wsUrl}/broadcast`);
    await broadcast.send('all');
    expect(await broadcast.next()).toBe('all');
    const stream = await TestClient.connect(`${away.wsUrl}/stream?interval=100`);
    expect(await stream.nextJson()).toHaveProperty('value');
    for (const c of [echo, a, b, basic, broadcast, stream]) c.ws.terminate();
  });

  it('get the pages, docs and probes', async () => {
    const { away } = await startPublic();
    for (const path of ['/', '/assets/dashboard.css', '/docs', '/docs/json', '/healthz', '/readyz']) {
      expect((await http(`${away.url}${path}`)).status, path).toBe(200);
    }
  });

  it('are refused /rt, /task-runner and endpoints added by the program, with 403 loopback_only', async () => {
    const { away, srv } = await startPublic();
    for (const path of ['/rt', '/task-runner', '/time']) {
      const r = await TestClient.refused(`${away.wsUrl}${path}`, { protocol: 'wirehub.v1' });
      loopbackOnly(r);
      expect(JSON.parse(r.body).error.message).toMatch(/only answers clients on this machine/);
    }
    // Nothing was opened for them.
    expect(srv.server.connectionCount).toBe(0);
  });

  it('are refused the HTTP API, /metrics and guarded routes, with 403 loopback_only', async () => {
    const { away } = await startPublic();
    const started = await http(`${away.url}/api/runs/demo/development/countdown/v1`, json({ n: 1 }));
    loopbackOnly(started);
    loopbackOnly(await http(`${away.url}/api/publish`, json({ channel: 'chat:lobby', data: 'x' })));
    for (const path of [
      '/api/channels/chat:lobby/history',
      '/api/channels/chat:lobby/presence',
      '/api/runs',
      '/api/tasks',
      '/api/status',
      '/api/admin/nodes',
      '/metrics',
      '/admin/whoami',
    ]) {
      loopbackOnly(await http(`${away.url}${path}`));
    }
  });

  it('while this machine keeps every door', async () => {
    const { local } = await startPublic();
    const rt = await RtClient.connect(`${local.wsUrl}/rt`);
    expect((await rt.request('publish', { channel: 'chat:lobby', data: 'x' })).op).toBe('reply');
    expect((await rt.request('history', { channel: 'chat:lobby' })).op).toBe('reply');
    rt.ws.terminate();
    const runner = await TestClient.connect(`${local.wsUrl}/task-runner`);
    runner.ws.terminate();
    const time = await TestClient.connect(`${local.wsUrl}/time`);
    expect(await time.next()).toBe('now');
    time.ws.terminate();
    expect((await http(`${local.url}/api/publish`, json({ channel: 'chat:lobby', data: 'y' }))).status).toBe(
      200,
    );
    expect((await http(`${local.url}/metrics`)).status).toBe(200);
    expect(JSON.parse((await http(`${local.url}/admin/whoami`)).body)).toEqual({ user: null });
  });

  it('pass every door with credentials once auth is on (the rule has nothing to say then)', async () => {
    const { away } = await startPublic({ auth: { apiKeys: [API_KEY] } });
    const auth = { authorization: `Bearer ${API_KEY}` };
    const rt = await RtClient.connect(`${away.wsUrl}/rt?access_token=${API_KEY}`);
    expect((await rt.request('publish', { channel: 'chat:lobby', data: 'x' })).op).toBe('reply');
    rt.ws.terminate();
    expect(
      (await http(`${away.url}/api/publish`, json({ channel: 'chat:lobby', data: 'y' }, auth))).status,
    ).toBe(200);
    expect((await http(`${away.url}/metrics`, { headers: auth })).status).toBe(200);
    // And without them: 401, as anywhere.
    expect((await TestClient.refused(`${away.wsUrl}/echo`)).status).toBe(401);
  });

  it('open /metrics with --public-metrics (it needs no credentials with auth on either)', async () => {
    const { away } = await startPublic({ publicMetrics: true });
    expect((await http(`${away.url}/metrics`)).status).toBe(200);
  });
});

describe('behind a trusted proxy', () => {
  it('judges the forwarded client on both surfaces; a forged X-Forwarded-For from elsewhere is ignored', async () => {
    const srv = await startServer({ trustProxy: ['loopback'] });
    servers.push(srv);
    const forwarded = 'X-Forwarded-For: 203.0.113.9\r\n';
    // A remote client, through the local proxy: only the public endpoints.
    expect(statusOf(await rawUpgrade(srv.port, '/echo', forwarded))).toBe(101);
    const rt = await rawUpgrade(srv.port, '/rt', `${forwarded}Sec-WebSocket-Protocol: wirehub.v1\r\n`);
    expect(statusOf(rt)).toBe(403);
    expect(rt).toContain('"reason":"loopback_only"');
    expect(rt).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
    expect(statusOf(await rawUpgrade(srv.port, '/task-runner', forwarded))).toBe(403);
    loopbackOnly(await http(`${srv.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } }));
    // A local client through the proxy, or the proxy itself: everything.
    const local = 'X-Forwarded-For: 127.0.0.1\r\nSec-WebSocket-Protocol: wirehub.v1\r\n';
    expect(statusOf(await rawUpgrade(srv.port, '/rt', local))).toBe(101);
    expect((await http(`${srv.url}/metrics`)).status).toBe(200);
  });

  it('a client on another machine cannot pass for local by sending X-Forwarded-For itself', async () => {
    const { away } = await startPublic({ trustProxy: ['loopback'] });
    const spoof = { 'x-forwarded-for': '127.0.0.1' };
    loopbackOnly(await TestClient.refused(`${away.wsUrl}/rt`, { protocol: 'wirehub.v1', headers: spoof }));
    loopbackOnly(await http(`${away.url}/api/runs`, { headers: spoof }));
  });
});

describe('starting on a public address without auth', () => {
  it('is refused by createServer unless allowPublicWithoutAuth; loopback and auth-on starts are fine', async () => {
    const dataDir = tempDir();
    for (const host of ['0.0.0.0', '::', remote.hostAddress]) {
      await expect(createServer({ host, port: 0, dataDir, logLevel: 'silent' })).rejects.toThrow(
        /refusing to listen on .* without auth.*allowPublicWithoutAuth/,
      );
    }
    for (const o of [
      { host: '127.0.0.1' },
      { host: 'localhost' },
      { host: '::1' },
      { host: '0.0.0.0', auth: { apiKeys: [API_KEY] } },
      { host: '0.0.0.0', allowPublicWithoutAuth: true },
    ]) {
      const server = await createServer({ ...o, port: 0, dataDir, logLevel: 'silent' });
      await server.close();
    }
  });

  it('is a usage error (exit 2) for wirehub serve; --allow-public-without-auth starts it with a loud warning and the rule', async () => {
    const refused = startCliServer(['--host', '0.0.0.0', '--data-dir', tempDir()]);
    await expect(refused).rejects.toThrow(/exited with 2[\s\S]*--allow-public-without-auth/);
    const viaEnvOff = startCliServer(['--host', '0.0.0.0', '--data-dir', tempDir()], {
      WIREHUB_ALLOW_PUBLIC_WITHOUT_AUTH: '0',
    });
    await expect(viaEnvOff).rejects.toThrow(/exited with 2/);

    const cli = await startCliServer(['--host', '0.0.0.0', '--data-dir', tempDir(), '--task-workers', '1'], {
      WIREHUB_ALLOW_PUBLIC_WITHOUT_AUTH: '1',
    });
    try {
      expect(cli.output()).toMatch(/AUTH IS OFF and the server listens on 0\.0\.0\.0/);
      const away = await remote.relayTo(cli.port);
      const echo = await TestClient.connect(`${away.wsUrl}/echo`);
      await echo.send('from afar');
      expect(await echo.next()).toBe('Echo: from afar');
      echo.ws.terminate();
      loopbackOnly(await TestClient.refused(`${away.wsUrl}/task-runner`));
      loopbackOnly(await http(`${away.url}/api/publish`, json({ channel: 'chat:lobby', data: 'x' })));
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});
