import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLink } from '../../src/engine/redis/redis-link.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';

/** Counts the calls of `conn.disconnect` (each one adds a listener and a timer to the socket). */
function countDisconnects(conn: Redis): { calls: number } {
  const counter = { calls: 0 };
  const original = conn.disconnect.bind(conn);
  conn.disconnect = (reconnect?: boolean) => {
    counter.calls += 1;
    original(reconnect);
  };
  return counter;
}

describe.runIf(redisAvailable())('a hung Redis (SIGSTOP: sockets open, nothing answered)', () => {
  let redis: RedisProcess;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  beforeAll(async () => {
    redis = await RedisProcess.start();
    process.on('warning', onWarning);
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await redis?.stop();
  });

  it('drops each socket once (no listener pile-up), reports the link down at once, and is back after SIGCONT', async () => {
    // A link check every 50 ms with 100 ms to answer: the hung socket stays open for
    // ioredis' disconnect timeout (2 s), about 40 checks, each of which used to drop it again.
    const link = new RedisLink({
      url: redis.url,
      name: 'hang-test',
      retryDelayMs: () => 50,
      commandTimeoutMs: 100,
      linkCheckMs: 50,
    });
    let downs = 0;
    let readies = 0;
    let wake = () => {};
    const changed = () => new Promise<void>((resolve) => (wake = resolve));
    await link.connect({
      down: () => {
        downs += 1;
        wake();
      },
      ready: () => {
        readies += 1;
        wake();
      },
      message: () => {},
    });
    const cmd = countDisconnects(link.cmd);
    const sub = countDisconnects(link.sub);
    const sockets = [link.cmd, link.sub].map((c) => (c as unknown as { stream: Socket }).stream);
    // The listeners each socket has when it finally closes: what the drops added to it.
    const listenersAtClose = sockets.map((s) => {
      const seen = { count: 0 };
      s.prependListener('close', () => {
        seen.count = s.listenerCount('close');
      });
      return seen;
    });

    const closed = Promise.all(sockets.map((s) => once(s, 'close')));
    const before = sockets.map((s) => s.listenerCount('close'));

    const down = changed();
    redis.pause();
    await down;
    expect(link.connected).toBe(false);
    await closed;
    expect(downs).toBe(1);
    expect({ cmd: cmd.calls, sub: sub.calls }).toEqual({ cmd: 1, sub: 1 });
    // One drop adds one listener (its timer's); a drop per failed check added one each.
    expect(listenersAtClose.map((seen) => seen.count)).toEqual(before.map((n) => n + 1));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);

    const ready = changed();
    redis.resume();
    await ready;
    expect(readies).toBe(1);
    expect(link.connected).toBe(true);
    expect(await link.cmd.ping()).toBe('PONG');
    await link.close();
  });
});
