import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('wirehub worker: usage', () => {
  it('is documented in --help with every flag and its environment variable', async () => {
    const r = await runCli(['worker', '--help']);
    expect(r.code).toBe(0);
    for (const [flag, env] of [
      ['--redis <url>', 'WIREHUB_REDIS_URL'],
      ['--tasks <dir|glob>', 'WIREHUB_TASKS'],
      ['--concurrency <n>', 'WIREHUB_CONCURRENCY'],
      ['--drain-timeout <duration>', 'WIREHUB_DRAIN_TIMEOUT'],
      ['--lock-duration <duration>', 'WIREHUB_LOCK_DURATION'],
      ['--stalled-interval <duration>', 'WIREHUB_STALLED_INTERVAL'],
      ['--run-retention <duration>', 'WIREHUB_RUN_RETENTION'],
      ['--log-level <level>', 'WIREHUB_LOG_LEVEL'],
    ]) {
      expect(r.stdout).toContain(flag);
      expect(r.stdout).toContain(env);
    }
    expect((await runCli(['--help'])).stdout).toMatch(/worker \[options\]\s+run queued task runs/);
  });

  it('refuses a missing or bad --redis and bad values with a one-line usage error, exit 2', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], {}, /required option '--redis <url>'/],
      [['--redis', 'http://127.0.0.1:6379'], {}, /--redis/],
      [[], { WIREHUB_REDIS_URL: 'localhost' }, /WIREHUB_REDIS_URL/],
      [['--redis', 'redis://127.0.0.1:6379', '--lock-duration', '10ms'], {}, /--lock-duration/],
      [['--redis', 'redis://127.0.0.1:6379', '--run-retention', '7 days'], {}, /--run-retention/],
    ];
    const results = await Promise.all(cases.map(([args, env]) => runCli(['worker', ...args], env)));
    results.forEach((r, i) => {
      const [args, , pattern] = cases[i] as (typeof cases)[number];
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(pattern);
    });
  });

  it('stops with a clear error, exit 1, when Redis cannot be reached', async () => {
    const r = await runCli(['worker', '--redis', 'redis://127.0.0.1:1', '--log-level', 'silent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wirehub: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('refuses --task-workers 0 without --redis, and --task-queue 0 with it (serve)', async () => {
    const [noRedis, noQueue] = await Promise.all([
      runCli(['serve', '--port', '0', '--task-workers', '0']),
      runCli(['serve', '--port', '0', '--redis', 'redis://127.0.0.1:1', '--task-queue', '0']),
    ]);
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr.split('\n')[0]).toMatch(/'--task-workers <n>' can be 0 only with --redis/);
    expect(noQueue.code).toBe(2);
    expect(noQueue.stderr.split('\n')[0]).toMatch(/'--task-queue <n>' must be at least 1 with --redis/);
  });
});
