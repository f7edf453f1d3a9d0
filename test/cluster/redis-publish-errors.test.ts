import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import type { Publication } from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/index.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';

/** Nested past what JSON.stringify can serialise: only code on the server can publish it. */
function tooDeep(): unknown {
  let value: unknown[] = [];
  for (let i = 0; i < 20_000; i += 1) value = [value];
  return value;
}

// Data that reaches the engine from code on the server (client JSON is bounded where it
// enters) and cannot be serialised fails that publication alone, with a catalog error (a 400,
// not a 500 `internal`): nothing is sent or stored, and the channel goes on.
describe.runIf(redisAvailable())('redis engine: data that cannot be serialised', () => {
  let redis: RedisProcess;
  let engine: RedisEngine;
  const received: Publication[] = [];

  beforeAll(async () => {
    redis = await RedisProcess.start();
    engine = new RedisEngine({ url: redis.url });
    await engine.start((pub) => received.push(pub));
    await engine.subscribe('chat:x');
    await engine.subscribe('broadcast');
  });

  afterAll(async () => {
    await engine.close();
    await redis.stop();
  });

  const cycle = (): unknown => {
    const value: Record<string, unknown> = {};
    value.self = value;
    return value;
  };
  const history = { size: 100, ttlMs: 60_000 };

  const cases: [string, () => unknown, boolean, string][] = [
    ['too deep, with history', tooDeep, true, 'json_too_deep'],
    ['a cycle, with history', cycle, true, 'invalid_message'],
    ['a BigInt, without history', () => 10n, false, 'invalid_message'],
    ['too deep, without history', tooDeep, false, 'json_too_deep'],
  ];
  it.each(cases)('%s: rejects and keeps the channel going', async (_name, data, withHistory, code) => {
    const channel = withHistory ? 'chat:x' : 'broadcast';
    const extra = withHistory ? { history } : {};
    const before = await engine.publish({ channel, data: 'before', ...extra });
    const failed = await engine.publish({ channel, data: data(), ...extra }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(WirehubError);
    expect(failed).toMatchObject({ code, status: 400 });
    const after = await engine.publish({ channel, data: 'after', ...extra });
    if (withHistory) {
      // No offset was used for the refused one.
      expect(after.offset).toBe((before.offset ?? 0) + 1);
      const page = await engine.history(channel, {}, history);
      expect(page.publications.slice(-2).map((p) => p.data)).toEqual(['before', 'after']);
    }
    await expect.poll(() => received.filter((p) => p.id === after.id).length).toBe(1);
    expect(
      received
        .filter((p) => p.channel === channel)
        .slice(-2)
        .map((p) => p.data),
    ).toEqual(['before', 'after']);
  });
});
