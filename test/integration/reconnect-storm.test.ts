import { describe, expect, it } from 'vitest';
import { runNode } from '../support/cli.js';

/**
 * bench/reconnect-storm.ts in small: its clients are dropped by a SIGKILL of the server (built
 * dist/, rebuilt by the global setup), come back to the restarted server and must recover
 * every publication of their channel, including one published while they reconnect.
 */

describe('reconnect storm bench', () => {
  it('brings every client back after a SIGKILL and restart, each recovered with what it missed', async () => {
    const run = await runNode([
      '--import',
      'tsx',
      'bench/reconnect-storm.ts',
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
