import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

/**
 * bench/many-connections.ts (`npm run bench:100k`) in small, so the bench cannot rot: idle
 * connections from two load-generator processes spread over the workers of one
 * `serve --workers 2`, and one broadcast sent on one worker reaches every connection on
 * both, once.
 */
function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/many-connections.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('many idle connections bench', () => {
  it('holds every connection across the workers and one broadcast reaches each once', async () => {
    const run = await bench([
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
