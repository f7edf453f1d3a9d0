import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('wirehub serve --redis', () => {
  it('is documented in --help, with --presence-ttl', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--redis <url>');
    expect(r.stdout).toContain('WIREHUB_REDIS_URL');
    expect(r.stdout).toContain('--presence-ttl <duration>');
    expect(r.stdout).toContain('WIREHUB_PRESENCE_TTL');
  });

  it('refuses a URL that is not a Redis URL: usage error, exit 2', async () => {
    const cases = [
      ['--redis', 'http://127.0.0.1:6379'],
      ['--redis', 'redis://127.0.0.1:6379/cache'],
      ['--presence-ttl', '10ms'],
    ];
    const [results, fromEnv] = await Promise.all([
      Promise.all(cases.map((args) => runCli(['serve', '--port', '0', ...args]))),
      runCli(['serve', '--port', '0'], { WIREHUB_REDIS_URL: 'localhost:6379' }),
    ]);
    for (const [i, r] of results.entries()) {
      const args = cases[i] ?? [];
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toContain(args[0]);
    }
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('WIREHUB_REDIS_URL');
  });

  it('stops with a clear error, exit 1, when Redis cannot be reached', async () => {
    const r = await runCli([
      'serve',
      '--port',
      '0',
      '--log-level',
      'silent',
      '--redis',
      'redis://127.0.0.1:1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wirehub: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1.*ECONNREFUSED/);
  });
});
