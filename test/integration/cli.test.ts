import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { tempDir } from '../support/server.js';

describe('wirehub serve flags', () => {
  it('refuses an invalid value with a one-line error naming the flag, exit 2', async () => {
    const cases = [
      ['--port', 'abc'],
      ['--ping-interval', 'soon'],
      ['--max-payload', 'huge'],
      ['--log-level', 'loud'],
      ['--log-format', 'xml'],
      ['--run-retention', 'a week'],
      ['--run-retention', '500ms'],
    ] as const;
    // Concurrently: each is a Node start.
    const results = await Promise.all(cases.map(([flag, value]) => runCli(['serve', flag, value])));
    for (const [i, [flag]] of cases.entries()) {
      const r = results[i] ?? { code: undefined, stderr: '' };
      expect(r.code, flag).toBe(2);
      const firstLine = r.stderr.split('\n')[0] ?? '';
      expect(firstLine).toContain(flag);
      expect(firstLine).toContain('invalid');
    }
    const unknown = await runCli(['serve', '--prot', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--prot'");
    // Seven Node starts: slow on a loaded machine.
  }, 60_000);

  it('reads WIREHUB_* variables, and flags win over them', async () => {
    const bad = await runCli(['serve'], { WIREHUB_PORT: 'abc' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('WIREHUB_PORT');
    const badRetention = await runCli(['serve'], { WIREHUB_RUN_RETENTION: '0' });
    expect(badRetention.code).toBe(2);
    expect(badRetention.stderr.split('\n')[0]).toMatch(/--run-retention.*WIREHUB_RUN_RETENTION.*at least 1s/);

    const dir = join(tempDir(), 'from-env');
    const srv = await startCliServer([], { WIREHUB_DATA_DIR: dir, WIREHUB_MAX_PAYLOAD: '16' });
    const c = await TestClient.connect(`${srv.wsUrl}/echo`);
    c.ws.send('x'.repeat(17));
    expect((await c.closed).code).toBe(1009);
    expect(existsSync(dir)).toBe(true);
    srv.child.kill('SIGTERM');
    expect((await srv.exited).code).toBe(0);

    const flagged = await startCliServer(['--max-payload', '64KiB'], { WIREHUB_MAX_PAYLOAD: '16' });
    const d = await TestClient.connect(`${flagged.wsUrl}/echo`);
    await d.send('x'.repeat(17));
    expect(await d.next()).toBe(`Echo: ${'x'.repeat(17)}`);
    flagged.child.kill('SIGTERM');
    await flagged.exited;
  });

  it('documents every flag in --help', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--data-dir',
      '--ping-interval',
      '--pong-timeout',
      '--max-payload',
      '--max-queued',
      '--drain-window',
      '--log-level',
      '--log-format',
      '--run-retention',
      'WIREHUB_RUN_RETENTION',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});

describe('wirehub serve logs', () => {
  it('logs each request as one line at debug, none at info; JSON lines when stdout is not a terminal', async () => {
    const quiet = await startCliServer(['--data-dir', tempDir()]);
    const verbose = await startCliServer(['--data-dir', tempDir(), '--log-level', 'debug']);
    for (const srv of [quiet, verbose]) {
      expect((await fetch(`${srv.url}/api/tasks`)).status).toBe(200);
      // Probes stay out of the log at every level.
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      srv.child.kill('SIGTERM');
      await srv.exited;
    }
    const lines = (out: string) =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; url?: string; method?: string; status?: number });
    expect(lines(quiet.output()).filter((l) => l.msg === 'request' || l.method !== undefined)).toEqual([]);
    const requests = lines(verbose.output()).filter((l) => l.msg === 'request');
    expect(requests).toEqual([expect.objectContaining({ method: 'GET', url: '/api/tasks', status: 200 })]);
  });

  it('--log-format pretty prints readable lines instead of JSON', async () => {
    const srv = await startCliServer(['--data-dir', tempDir(), '--log-format', 'pretty']);
    srv.child.kill('SIGTERM');
    await srv.exited;
    const listening =
      srv
        .output()
        .split('\n')
        .find((l) => l.includes('wirehub listening on')) ?? '';
    expect(listening).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*: wirehub listening on http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(srv.output()).not.toMatch(/^\{"level"/m);
  });
});

describe('npm start', () => {
  it('passes flags through to wirehub serve', async () => {
    const dir = join(tempDir(), 'npm-start');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const srv = await startCliServer([], {}, [
      npm,
      'start',
      '--silent',
      '--',
      '--port',
      '0',
      '--data-dir',
      dir,
    ]);
    expect(existsSync(dir)).toBe(true);
    const c = await TestClient.connect(`${srv.wsUrl}/echo`);
    await c.send('via npm');
    expect(await c.next()).toBe('Echo: via npm');
    // npm forwards the signal to the server, which drains (1001) and exits; npm then
    // re-raises the signal on itself.
    srv.child.kill('SIGTERM');
    expect((await c.closed).code).toBe(1001);
    const exit = await srv.exited;
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
  });
});
