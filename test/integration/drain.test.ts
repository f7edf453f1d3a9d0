import { describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { tempDir } from '../support/server.js';

async function readyStatus(srv: CliServer): Promise<number> {
  return (await fetch(`${srv.url}/readyz`)).status;
}

describe('graceful shutdown of `wirehub serve`', () => {
  it('on SIGTERM: readyz 503, new upgrades refused, every client gets 1001 spread over the window, exit 0', async () => {
    const srv = await startCliServer([
      '--drain-window',
      '600ms',
      '--data-dir',
      tempDir(),
      '--log-level',
      'info',
    ]);
    const clients = await Promise.all(
      ['/echo', '/ws', '/broadcast', '/chat/a', '/stream'].map((p) => TestClient.connect(`${srv.wsUrl}${p}`)),
    );
    expect(await readyStatus(srv)).toBe(200);
    const closeTimes: number[] = [];
    const closes = clients.map((c) =>
      c.closed.then((info) => {
        closeTimes.push(Date.now());
        return info;
      }),
    );
    const started = Date.now();
    srv.child.kill('SIGTERM');
    // The first close goes out at once; while the rest are pending the node is not ready.
    await Promise.race(closes);
    expect(await readyStatus(srv)).toBe(503);
    const refused = await TestClient.refused(`${srv.wsUrl}/echo`);
    expect(refused.status).toBe(503);
    for (const info of await Promise.all(closes))
      expect(info).toEqual({ code: 1001, reason: 'server shutting down' });
    // Spread: the last close comes well after the first (5 clients over 600 ms).
    expect(Math.max(...closeTimes) - Math.min(...closeTimes)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...closeTimes) - started).toBeLessThan(5_000);
    expect(await srv.exited).toEqual({ code: 0, signal: null });
  });

  it('exits at once on a second signal', async () => {
    const srv = await startCliServer(['--drain-window', '60s', '--data-dir', tempDir()]);
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(`${srv.wsUrl}/echo`)));
    srv.child.kill('SIGINT');
    await clients[0]?.closed;
    // The other signal: the same one within a second would be a process-group duplicate
    // (unit-tested in drain-on-signals.test.ts with a fake clock).
    srv.child.kill('SIGTERM');
    const exit = await srv.exited;
    expect(exit.code).toBe(1);
    // Clients not yet closed by the drain see the connection drop.
    expect((await clients[2]?.closed)?.code).toBe(1006);
  });

  it("drains once when SIGTERM reaches `npm start`'s whole process group (npm forwards it too)", async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const srv = await startCliServer(
      [],
      {},
      [npm, 'start', '--silent', '--', '--port', '0', '--drain-window', '400ms', '--data-dir', tempDir()],
      { detached: true },
    );
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(`${srv.wsUrl}/echo`)));
    const pgid = srv.child.pid as number;
    // What systemd (KillMode=control-group) and `kill -TERM -<pgid>` do: every process of the
    // group gets the signal, so Node gets it twice (directly and forwarded by npm).
    process.kill(-pgid, 'SIGTERM');
    for (const c of clients) expect((await c.closed).code).toBe(1001);
    const exit = await srv.exited;
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(srv.output()).not.toContain('second signal');
  });
});
