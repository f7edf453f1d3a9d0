import { describe, expect, it } from 'vitest';
import { runNode } from '../support/cli.js';

/**
 * bench/many-connections.ts (`npm run bench:100k`) in small, so the bench cannot rot: idle
 * connections from two load-generator processes spread over the workers of one
 * `serve --workers 2`, and one broadcast sent on one worker reaches every connection on
 * both, once.
 */

describe('many idle connections bench', () => {
  it('holds every connection across the workers and one broadcast reaches each once', async () => {
    const run = await runNode([
      '--import',
      'tsx',
      'bench/many-connections.ts',
      '--connections',
      '300',
      '--workers',
      '2',
      '--per-holder',
      '150',
      '--broadcast-timeout',
      '20',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      open: number;
      failed: number;
      connectionsPerWorker: Record<string, number>;
      broadcast: { reached: number; of: number; messages: number };
      serverMemoryMb: { pss: { withConnections: number }; rssSum: { withConnections: number } };
    };
    expect(report.open).toBe(300);
    expect(report.failed).toBe(0);
    const perWorker = Object.values(report.connectionsPerWorker);
    expect(perWorker).toHaveLength(2);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(300);
    // Round-robin: both workers hold connections, so the broadcast had to cross processes.
    for (const n of perWorker) expect(n).toBeGreaterThan(0);
    expect(report.broadcast).toMatchObject({ reached: 300, of: 300, messages: 300 });
    expect(report.serverMemoryMb.pss.withConnections).toBeGreaterThan(0);
    expect(report.serverMemoryMb.rssSum.withConnections).toBeGreaterThan(
      report.serverMemoryMb.pss.withConnections,
    );
  }, 120_000);
});
