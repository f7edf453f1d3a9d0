import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { API_KEY, http, mintToken, SECRET } from '../support/security.js';
import { tempDir } from '../support/server.js';

const SECURITY_FLAGS = [
  '--jwt-secret',
  '--jwks',
  '--jwt-issuer',
  '--jwt-audience',
  '--api-key',
  '--permissions',
  '--allowed-origins',
  '--max-connections',
  '--max-connections-per-ip',
  '--ip-connection-rate',
  '--ip-connection-burst',
  '--message-rate',
  '--message-burst',
  '--max-runs-per-user',
  '--tls-cert',
  '--tls-key',
  '--trust-proxy',
  '--headers-timeout',
  '--request-timeout',
  '--public-metrics',
];

describe('wirehub serve security flags', () => {
  it('documents every security flag with its env variable', async () => {
    const r = await runCli(['serve', '--help']);
    for (const flag of SECURITY_FLAGS) {
      expect(r.stdout).toContain(flag);
      if (flag !== '--api-key')
        expect(r.stdout).toContain(`WIREHUB_${flag.slice(2).replaceAll('-', '_').toUpperCase()}`);
    }
    expect(r.stdout).toContain('WIREHUB_API_KEYS');
  });

  it('refuses bad security values with exit 2 and a message naming the problem', async () => {
    const dir = tempDir();
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{"roles":{"a":{"endpoints":"echo"}}}');
    const cases = [
      [['--jwt-secret', 'short'], '--jwt-secret'],
      [['--jwks', join(dir, 'missing.json')], '--jwks'],
      [['--jwks', badJson], 'keys'],
      [['--api-key', 'tiny'], '--api-key'],
      [['--allowed-origins', 'example.com'], 'not an origin'],
      [['--trust-proxy', 'not-an-ip'], '--trust-proxy'],
      [['--max-connections', '-1'], '--max-connections'],
      [['--message-burst', '0'], '--message-burst'],
      [['--max-runs-per-user', 'x'], '--max-runs-per-user'],
      [['--permissions', badJson], 'roles.a.endpoints'],
      [['--tls-cert', badJson], '--tls-cert and --tls-key go together'],
      [['--jwt-audience', 'x'], 'need --jwt-secret or --jwks'],
    ] as const;
    // Each run is a process start: run them side by side.
    const results = await Promise.all(cases.map(([args]) => runCli(['serve', '--port', '0', ...args])));
    cases.forEach(([args, says], i) => {
      const r = results[i];
      expect(r?.code, args.join(' ')).toBe(2);
      expect(r?.stderr, args.join(' ')).toContain(says);
    });
  });

  it('warns when auth is off, and turns it on from WIREHUB_* variables', async () => {
    const open = await startCliServer();
    expect(open.output()).toContain('auth is off');
    open.child.kill('SIGTERM');
    await open.exited;

    const dir = tempDir();
    const permissions = join(dir, 'permissions.json');
    writeFileSync(permissions, JSON.stringify({ roles: { echoer: { endpoints: ['echo'] } } }));
    const other = 'second-api-key-for-tests-0000';
    const srv = await startCliServer([], {
      WIREHUB_JWT_SECRET: SECRET,
      WIREHUB_API_KEYS: `${API_KEY},${other}`,
      WIREHUB_PERMISSIONS: permissions,
      WIREHUB_MESSAGE_RATE: '0',
    });
    try {
      expect(srv.output()).not.toContain('auth is off');
      for (const key of [API_KEY, other]) {
        const c = await TestClient.connect(`${srv.wsUrl}/echo`, {
          headers: { authorization: `Bearer ${key}` },
        });
        c.ws.terminate();
      }
      const echoer = await mintToken({ roles: ['echoer'] });
      const c = await TestClient.connect(`${srv.wsUrl}/echo?access_token=${echoer}`);
      c.ws.terminate();
      expect((await TestClient.refused(`${srv.wsUrl}/ws?access_token=${echoer}`)).status).toBe(403);
      expect((await TestClient.refused(`${srv.wsUrl}/echo`)).status).toBe(401);
      expect((await http(`${srv.url}/metrics`)).status).toBe(401);
    } finally {
      srv.child.kill('SIGTERM');
      await srv.exited;
    }
  });

  it('limits runs per user from WIREHUB_MAX_RUNS_PER_USER; wirehub tasks/run authenticate with --token', async () => {
    const srv = await startCliServer(['--data-dir', tempDir(), '--task-workers', '1'], {
      WIREHUB_JWT_SECRET: SECRET,
      WIREHUB_MAX_RUNS_PER_USER: '1',
    });
    try {
      const counter = await mintToken({
        sub: 'alice',
        wirehub: { endpoints: ['task-runner'], tasks: ['demo/development/word-count'] },
      });
      // Each run is a process start: run them side by side.
      const [listed, ran, anonymous] = await Promise.all([
        runCli(['tasks', '--url', srv.url, '--token', counter]),
        runCli(['run', 'demo/development/word-count', '--input', 'text=a b', '--url', srv.url], {
          WIREHUB_TOKEN: counter,
        }),
        runCli(['run', 'demo/development/word-count', '--url', srv.url]),
      ]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout.trim().split('\n')[0]).toBe('demo/development/word-count@v1');
      expect(listed.stdout).not.toContain('countdown');
      expect(ran.code, ran.stderr).toBe(0);
      expect(JSON.parse(ran.stdout)).toMatchObject({ total: 2 });
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toContain('refused the connection (HTTP 401)');

      // One run in progress per user: the second waits for the first to end.
      const alice = await mintToken({ sub: 'alice' });
      const start = () =>
        http(`${srv.url}/api/runs/demo/development/countdown/v1`, {
          method: 'POST',
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          body: JSON.stringify({ n: 1000, delayMs: 50 }),
        });
      const first = await start();
      expect(first.status).toBe(202);
      const second = await start();
      expect(second.status).toBe(429);
      expect(JSON.parse(second.body).error).toMatchObject({ code: 'too_many_runs', details: { max: 1 } });
    } finally {
      srv.child.kill('SIGTERM');
      await srv.exited;
    }
  });
});
