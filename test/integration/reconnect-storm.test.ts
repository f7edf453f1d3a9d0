import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

/**
 * bench/reconnect-storm.ts in small: its clients are dropped by a SIGKILL of the server (built
 * dist/, rebuilt by the global setup), come back to the restarted server and must recover
 * every publication of their channel, including one published while they reconnect.
 */
function storm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/reconnect-storm.ts', ...args], {
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

describe('reconnect storm bench', () => {
  it('brings every client back after a SIGKILL and restart, each recovered with what it missed', async () => {
    const run = await storm([
      '--connections',
      '40',
      '--workers',
      '2',
      '--channels',
      '4',
      '--publications',
      '2',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ back: 40, recovered: 40, toldNotRecovered: 0, unanswered: 0 });
    // One publication per channel was made while they were away or coming back.
    expect(report.publicationsSeen).toBe('120 of 120 (live + replayed)');
  }, 90_000);
});
