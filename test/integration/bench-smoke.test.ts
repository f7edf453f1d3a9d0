import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../src/cli/bench/report.js';
import { CLI, runNode } from '../support/cli.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * Each scenario of `wirehub bench` runs with `--smoke` through the built CLI (a child process;
 * the global setup rebuilds dist/ when src/ changed) against a real server, and its JSON
 * report must add up. The server runs in this process, so `--server-pid` is our own pid.
 */

/** The CLI to completion; the timeout only turns a hang into a clear failure (a smoke run takes ~1 s). */
const cli = (args: string[]) => runNode([CLI, ...args], { timeoutMs: 25_000 });

async function bench<R extends object>(scenario: string, args: string[]): Promise<BenchReport<R>> {
  const r = await cli(['bench', scenario, '--smoke', '--json', '--server-pid', String(process.pid), ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as BenchReport<R>;
}

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer();
});

afterAll(async () => {
  await srv.close();
});

// Concurrent: each run is a short child process; they use different endpoints or channels.
describe.concurrent('wirehub bench --smoke', () => {
  it('echo: every message answered, in order, none lost', async () => {
    const r = await bench<Record<string, number>>('echo', ['--url', `${srv.wsUrl}/echo`]);
    expect(r.scenario).toBe('echo');
    expect(r.results.sent).toBe(200);
    expect(r.results.received).toBe(200);
    expect(r.results.lost).toBe(0);
    expect(r.results.mismatched).toBe(0);
    expect(r.results.messagesPerSec).toBeGreaterThan(0);
    expect(r.latencyMs.count).toBe(200);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.p50);
    expect(r.server?.pid).toBe(process.pid);
    expect(r.server?.rssEndBytes).toBeGreaterThan(0);
  });

  it('fanout on a broadcast endpoint: every publication reaches every subscriber', async () => {
    const r = await bench<Record<string, number>>('fanout', ['--url', `${srv.wsUrl}/broadcast`]);
    expect(r.results.subscribers).toBe(10);
    expect(r.results.publications).toBe(50);
    expect(r.results.deliveries).toBe(500);
    expect(r.results.expectedDeliveries).toBe(500);
    expect(r.results.lost).toBe(0);
    expect(r.results.outOfOrder).toBe(0);
    expect(r.results.deliveriesPerSec).toBeGreaterThan(0);
    expect(r.latencyMs.count).toBe(500);
  });

  it('fanout on an /rt channel: subscribe, publish and message pushes of the real /rt', async () => {
    const r = await bench<Record<string, number>>('fanout', [
      '--url',
      `${srv.wsUrl}/rt`,
      '--channel',
      'stream:bench',
      '--rate',
      '200',
    ]);
    expect(r.params.mode).toBe('rt:stream:bench');
    expect(r.results.deliveries).toBe(500);
    expect(r.results.lost).toBe(0);
    expect(r.results.outOfOrder).toBe(0);
    expect(r.results.publishErrors).toBe(0);
    expect(r.results.saturated).toBe(0);
  });

  it('fanout on /rt reports the server refusing a channel', async () => {
    const r = await cli([
      'bench',
      'fanout',
      '--smoke',
      '--json',
      '--url',
      `${srv.wsUrl}/rt`,
      '--channel',
      'nosuch:x',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no connection could be opened .*unknown_namespace/);
  });

  it('connections: opens and holds them all', async () => {
    const r = await bench<Record<string, number>>('connections', ['--url', `${srv.wsUrl}/echo`]);
    expect(r.results.opened).toBe(20);
    expect(r.results.failures).toBe(0);
    expect(r.results.closedEarly).toBe(0);
    expect(r.latencyMs.count).toBe(20);
  });

  it('churn: connects and closes in a loop', async () => {
    const r = await bench<Record<string, number>>('churn', ['--url', `${srv.wsUrl}/echo`]);
    expect(r.results.cycles).toBe(20);
    expect(r.results.failures).toBe(0);
    expect(r.results.cyclesPerSec).toBeGreaterThan(0);
  });

  it('prints a table without --json', async () => {
    const r = await cli(['bench', 'echo', '--smoke', '--url', `${srv.wsUrl}/echo`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wirehub bench echo {2}ws:\/\/127\.0\.0\.1:\d+\/echo/);
    expect(r.stdout).toMatch(/messages per sec\s+[\d,.]+/);
    expect(r.stdout).toMatch(/round trip ms\s+p50 [\d.]+ {2}p90/);
  });

  it('takes the server as http:// too, and a URL without a path means the scenario endpoint', async () => {
    const r = await bench<Record<string, number>>('connections', ['--url', srv.url]);
    expect(r.url).toBe(`${srv.wsUrl}/echo`);
    expect(r.results.opened).toBe(20);
  });

  it('says which server flags a load generator needs when the per-IP limits answer 429', async () => {
    const limited = await startServer({ limits: { ipConnectionRate: 1, ipConnectionBurst: 3 } });
    try {
      const r = await cli(['bench', 'connections', '--smoke', '--json', '--url', `${limited.wsUrl}/echo`]);
      expect(`${r.stdout}${r.stderr}`).toContain(
        'HTTP 429: the server limits connections per client IP: start it with --max-connections-per-ip 0 --ip-connection-rate 0',
      );
    } finally {
      await limited.close();
    }
  });

  it('rejects bad flags as usage errors (exit 2) and unreachable servers as failures (exit 1)', async () => {
    const [badUrl, badCount, refused] = await Promise.all([
      cli(['bench', 'echo', '--url', 'ftp://127.0.0.1:1/echo']),
      cli(['bench', 'fanout', '--subscribers', 'many']),
      cli(['bench', 'echo', '--smoke', '--url', `${srv.wsUrl}/nowhere`]),
    ]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/ws:\/\/, wss:\/\/, http:\/\/ or https:\/\//);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toMatch(/whole number/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/no connection could be opened .*HTTP 404/);
  });
});
