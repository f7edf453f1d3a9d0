import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { RedisLink } from '../../src/engine/redis/redis-link.js';
import { WirehubError } from '../../src/protocol/index.js';
import { RedisRunStore } from '../../src/tasks/runs/redis/store.js';
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

  it('a publish on a link found hung fails at once with broker_unavailable, sending nothing', async () => {
    // The hung socket stays open (status `ready`) for ioredis' disconnect timeout after the
    // link check drops it; a command written on it waited the whole command timeout, so every
    // publish of a node whose Redis hung took that long to fail (the soak's seed 1661836835).
    const engine = new RedisEngine({
      url: redis.url,
      prefix: 'hang-publish:',
      commandTimeoutMs: 200,
      linkCheckMs: 50,
      retryDelayMs: () => 50,
    });
    let wake = () => {};
    const linkChanged = () => new Promise<void>((resolve) => (wake = resolve));
    await engine.start(() => {}, { link: () => wake() });
    const input = { channel: 'chat:hang', data: { n: 1 }, history: { size: 10, ttlMs: 60_000 } };
    expect((await engine.publish(input)).offset).toBe(1);

    const cmd = (engine as unknown as { link: RedisLink }).link.cmd;
    const socket = (cmd as unknown as { stream: Socket }).stream;
    let socketClosed = false;
    socket.once('close', () => {
      socketClosed = true;
    });
    const down = linkChanged();
    redis.pause();
    await down;
    let sent = 0;
    const sendCommand = cmd.sendCommand.bind(cmd);
    cmd.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
      sent += 1;
      return sendCommand(...args);
    };
    const failure = await engine.publish(input).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Still inside the window where the dropped socket has not closed.
    expect(socketClosed).toBe(false);
    expect(failure).toBeInstanceOf(WirehubError);
    expect((failure as WirehubError).code).toBe('broker_unavailable');
    expect((failure as WirehubError).message).toMatch(/link is down/);
    expect(sent).toBe(0);
    cmd.sendCommand = sendCommand;

    const up = linkChanged();
    redis.resume();
    await up;
    expect((await engine.publish(input)).offset).toBe(2);
    await engine.close();
  });

  it('a run store call on a hung Redis fails with broker_unavailable instead of waiting forever', async () => {
    const store = new RedisRunStore({ url: redis.url, prefix: 'hang-runs:', commandTimeoutMs: 200 });
    await store.open();
    expect(await store.updates('r-none')).toEqual([]);
    redis.pause();
    try {
      const failure = await store.updates('r-none').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WirehubError);
      expect((failure as WirehubError).code).toBe('broker_unavailable');
    } finally {
      redis.resume();
    }
    expect(await store.updates('r-none')).toEqual([]);
    await store.close();
  });
});
