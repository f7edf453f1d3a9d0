import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createServer, defineEndpoint, Frame, WirehubError } from '../../src/index.js';
import { runCli, startCliServer } from '../support/cli.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** An endpoint that greets and echoes, at `path`. */
const hello = (path: string) =>
  defineEndpoint({
    path,
    name: 'hello',
    open: (session) => {
      session.send(Frame.text('hello'));
      return {
        message: (text) => {
          session.send(Frame.text(`you said ${text}`));
        },
      };
    },
  });

/** The error createServer threw, or undefined when it created a server (then closed). */
async function createError(options: Parameters<typeof createServer>[0]): Promise<unknown> {
  try {
    const server = await createServer({ port: 0, logLevel: 'silent', dataDir: tempDir(), ...options });
    await server.close();
    return undefined;
  } catch (err) {
    return err;
  }
}

function firstMessage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('message', (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.once('error', reject);
  });
}

describe('an endpoint on a built-in route is refused at createServer', () => {
  it('an endpoint at / names itself and the dashboard, with a WirehubError (not a Fastify error at listen)', async () => {
    const err = await createError({ endpoints: [hello('/')] });
    expect(err).toBeInstanceOf(WirehubError);
    const e = err as WirehubError;
    expect(e.code).toBe('route_conflict');
    expect(e.message).toContain('the endpoint "hello" at / collides with the dashboard at /');
    expect(e.message).toContain('--dashboard');
    expect(e.details).toEqual({ path: '/', builtin: '/' });
  });

  it.each([
    ['/metrics', 'the Prometheus metrics'],
    ['/healthz', 'the liveness probe'],
    ['/readyz', 'the readiness probe'],
    ['/docs', 'the API documentation'],
    ['/docs/json', 'the API documentation'],
    ['/api/publish', 'the HTTP API'],
    ['/api/things/:id', 'the HTTP API'],
    ['/runs/:run', 'the run pages'],
    ['/assets/x.js', "the dashboard's assets"],
    ['/admin/connections', "the dashboard's admin pages"],
    ['/admin/nodes', "the dashboard's admin pages"],
    ['/api/admin/nodes', 'the HTTP API'],
    ['/favicon.ico', 'the site icon'],
  ])('an endpoint at %s collides with %s', async (path, what) => {
    const err = await createError({ endpoints: [hello(path)] });
    expect(err).toBeInstanceOf(WirehubError);
    expect((err as WirehubError).code).toBe('route_conflict');
    expect((err as Error).message).toContain(`at ${path} collides with ${what}`);
  });

  it('addEndpoint() refuses one too, and paths beside the built-in ones are fine', async () => {
    const server = await createServer({ port: 0, logLevel: 'silent', dataDir: tempDir(), tasks: false });
    try {
      expect(() => server.addEndpoint(hello('/metrics'))).toThrow(
        /the endpoint "hello" at \/metrics collides with the Prometheus metrics at \/metrics/,
      );
    } finally {
      await server.close();
    }
    // /runs/… is the tasks' (off here); /apis and /metrics-ws only look alike.
    for (const path of ['/runs/:id', '/apis', '/metrics-ws']) {
      expect(await createError({ tasks: false, endpoints: [hello(path)] })).toBeUndefined();
    }
  });
});

/** A server made by createServer (not listening yet), closed after the test. */
async function created(options: Parameters<typeof createServer>[0] = {}) {
  const server = await createServer({
    port: 0,
    logLevel: 'silent',
    dataDir: tempDir(),
    tasks: false,
    ...options,
  });
  closers.push(() => server.close());
  return server;
}
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** What `fn` threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('a route of yours on server.http on a built-in path is refused when you add it', () => {
  const handler = async () => ({ mine: true });

  it.each([
    ['/', 'the dashboard at /'],
    ['/metrics', 'the Prometheus metrics at /metrics'],
    ['/admin/channels', "the dashboard's admin pages at /admin/channels"],
    ['/docs/json', 'the API documentation at /docs (and every path under it)'],
    ['/favicon.svg', 'the site icon at /favicon.svg'],
  ])(
    'GET %s: a route_conflict naming both, not FST_ERR_DUPLICATED_ROUTE from listen()',
    async (path, builtin) => {
      const server = await created();
      const err = thrown(() => server.http.get(path, handler));
      expect(err).toBeInstanceOf(WirehubError);
      expect((err as WirehubError).code).toBe('route_conflict');
      expect((err as Error).message).toContain(
        `the HTTP route GET ${path} at ${path} collides with ${builtin}`,
      );
      expect((err as WirehubError).details).toMatchObject({ path });
    },
  );

  it('a plugin of yours with a route on a built-in path: listen() throws route_conflict naming both', async () => {
    for (const [path, builtin] of [
      ['/metrics', 'the Prometheus metrics at GET /metrics'],
      ['/api/status', 'the HTTP API at GET /api/status'],
    ] as const) {
      const server = await created();
      // Not awaited: listen() loads the plugin, after the server's own routes.
      void server.http.register(async (app) => {
        app.get(path, handler);
      });
      const err = await server.listen().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WirehubError);
      expect(err).toMatchObject({ code: 'route_conflict', details: { path, builtin: path } });
      expect((err as Error).message).toContain(
        `the HTTP route GET ${path} (added by a plugin) collides with ${builtin}`,
      );
    }
    // Awaited, the plugin loads at once: its route is refused there, as any route of yours.
    const early = await created();
    const awaited = await early.http
      .register(async (app) => {
        app.get('/metrics', handler);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(awaited).toMatchObject({ code: 'route_conflict', details: { path: '/metrics' } });
    // A plugin's routes elsewhere are served.
    const ok = await created();
    await ok.http.register(async (app) => {
      app.get('/plugin/hello', handler);
    });
    const { url } = await ok.listen();
    expect(await (await fetch(`${url}/plugin/hello`)).json()).toEqual({ mine: true });
  });

  it('under /api yours are served (behind the API guard), but not on a path the API answers itself', async () => {
    const server = await created();
    server.http.post('/api/mine', handler);
    server.http.get('/api/status', handler);
    const err = await server.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WirehubError);
    expect((err as WirehubError).code).toBe('route_conflict');
    expect((err as Error).message).toContain(
      'the HTTP route GET /api/status collides with the HTTP API at GET /api/status',
    );

    // A GET on a WebSocket endpoint's path is the server's too (it answers 426 there).
    const onEndpoint = await created();
    onEndpoint.http.get('/echo', handler);
    const clash = await onEndpoint.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(clash).toMatchObject({ code: 'route_conflict', details: { path: '/echo', builtin: '/echo' } });
    expect((clash as Error).message).toContain('the HTTP route GET /echo collides with');

    const ok = await created();
    ok.http.post('/api/mine', handler);
    const { url } = await ok.listen();
    const res = await fetch(`${url}/api/mine`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mine: true });
  });

  it('the check follows the dashboard: moved, its path is taken and / is free; off, / and /admin/* are free', async () => {
    const moved = await created({ dashboard: '/console' });
    expect((thrown(() => moved.http.get('/console', handler)) as Error).message).toContain(
      'collides with the dashboard at /console',
    );
    moved.http.get('/', handler);
    const { url } = await moved.listen();
    expect(await (await fetch(`${url}/`)).json()).toEqual({ mine: true });
    expect((await fetch(`${url}/console`)).status).toBe(200);

    const off = await created({ dashboard: false });
    off.http.get('/', handler);
    off.http.get('/admin/nodes', handler);
    const { url: offUrl } = await off.listen();
    expect(await (await fetch(`${offUrl}/admin/nodes`)).json()).toEqual({ mine: true });
    // An endpoint on an admin page's path is fine too, then.
    expect(
      await createError({ tasks: false, dashboard: false, endpoints: [hello('/admin/connections')] }),
    ).toBeUndefined();
  });
});

describe('the dashboard option', () => {
  it('dashboard: false frees / for an endpoint: it speaks WebSocket there and a plain GET answers 426', async () => {
    const srv = await startServer({ tasks: false, dashboard: false, endpoints: [hello('/')] });
    servers.push(srv);
    expect(await firstMessage(`${srv.wsUrl}/`)).toBe('hello');
    const res = await fetch(`${srv.url}/`);
    expect(res.status).toBe(426);
    // The assets stay: run pages and the SDK use them.
    expect((await fetch(`${srv.url}/assets/wirehub-client.js`)).status).toBe(200);
  });

  it('dashboard: "/console" serves the page there, and / is free', async () => {
    const srv = await startServer({ tasks: false, dashboard: '/console/' });
    servers.push(srv);
    expect(srv.server.options.dashboard).toBe('/console');
    const page = await fetch(`${srv.url}/console`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/assets/dashboard.js"></script>');
    expect((await fetch(`${srv.url}/`)).status).toBe(404);
    // An endpoint at the new path is refused, one at / is not.
    expect(
      await createError({ tasks: false, dashboard: '/console', endpoints: [hello('/console')] }),
    ).toBeInstanceOf(WirehubError);
    expect(
      await createError({ tasks: false, dashboard: '/console', endpoints: [hello('/')] }),
    ).toBeUndefined();
  });

  it('refuses a dashboard path another built-in route takes, or one that is not a plain path', async () => {
    const err = await createError({ dashboard: '/metrics' });
    expect(err).toBeInstanceOf(WirehubError);
    expect((err as Error).message).toContain(
      'the dashboard at /metrics collides with the Prometheus metrics',
    );
    for (const bad of ['console', '/a/:b', '/a*', '/a?x=1', '']) {
      expect(String(await createError({ dashboard: bad }))).toMatch(/dashboard must be false or a path/);
    }
  });

  it('the CLI takes --dashboard false|<path> (env WIREHUB_DASHBOARD) and refuses a bad value with a usage error', async () => {
    const cli = await startCliServer(['--data-dir', tempDir(), '--log-level', 'info'], {
      WIREHUB_DASHBOARD: '/console',
    });
    try {
      expect((await fetch(`${cli.url}/console`)).status).toBe(200);
      expect((await fetch(`${cli.url}/`)).status).toBe(404);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    const off = await startCliServer(['--data-dir', tempDir(), '--dashboard', 'false']);
    try {
      expect((await fetch(`${off.url}/`)).status).toBe(404);
    } finally {
      off.child.kill('SIGTERM');
      await off.exited;
    }
    const bad = await runCli(['serve', '--port', '0', '--dashboard', 'console']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--dashboard <false|path>' argument 'console' is invalid");
  }, 60_000);
});
