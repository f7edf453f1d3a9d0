import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCliServer } from '../support/cli.js';
import { RtClient } from '../support/rt-client.js';
import { tempDir } from '../support/server.js';

function file(name: string, content: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

describe('wirehub serve --namespaces / --max-channels', () => {
  it('refuses a missing, non-JSON or wrongly shaped namespaces file with exit 2', async () => {
    const cases = [
      [join(tempDir(), 'missing.json'), 'cannot read'],
      [file('bad.json', '{nope'), 'not valid JSON'],
      [file('shape.json', JSON.stringify([{ pattern: 'a:b' }])), '0.pattern'],
      [file('history.json', JSON.stringify([{ pattern: 'a:*', history: { size: 0, ttlMs: 5 } }])), 'history'],
    ] as const;
    for (const [path, why] of cases) {
      const r = await runCli(['serve', '--namespaces', path]);
      expect(r.code, path).toBe(2);
      expect(r.stderr).toContain('--namespaces');
      expect(r.stderr).toContain(why);
    }
    const badMax = await runCli(['serve', '--max-channels', '0']);
    expect(badMax.code).toBe(2);
    expect(badMax.stderr).toContain('--max-channels');
  });

  it('serves the configured namespaces and channel limit', async () => {
    const namespaces = file(
      'ns.json',
      JSON.stringify([
        { pattern: 'prices:*', history: { size: 10, ttlMs: 60_000 }, publish: 'server' },
        { pattern: 'notes:*', history: { size: 5, ttlMs: 60_000 } },
      ]),
    );
    const srv = await startCliServer(['--data-dir', tempDir(), '--max-channels', '2'], {
      WIREHUB_NAMESPACES: namespaces,
    });
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    expect(await c.call('subscribe', { channel: 'prices:eur' })).toMatchObject({ offset: 0 });
    expect(await c.request('publish', { channel: 'prices:eur', data: 1 })).toMatchObject({
      code: 'forbidden',
    });
    expect(await c.call('publish', { channel: 'notes:a', data: 'n' })).toMatchObject({ offset: 1 });
    await c.call('subscribe', { channel: 'notes:a' });
    expect(await c.request('subscribe', { channel: 'chat:lobby' })).toMatchObject({
      code: 'too_many_channels',
    });
    srv.child.kill('SIGTERM');
    expect((await c.closed).code).toBe(1001);
    expect((await srv.exited).code).toBe(0);
  });

  it('documents the flags in --help', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.stdout).toContain('--namespaces');
    expect(r.stdout).toContain('--max-channels');
  });
});
