import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodePayload } from '../../src/engine/redis/codec.js';
import { RedisKeys } from '../../src/engine/redis/keys.js';
import { RedisEngine, type RedisEngineOptions } from '../../src/engine/redis/redis-engine.js';
import type { HistoryPolicy, Publication } from '../../src/engine/types.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';

const KEEP: HistoryPolicy = { size: 1000, ttlMs: 60 * 60 * 1000 };

/** Resolves when `check()` holds, re-checking on every recorded event (no sleeps). */
class Recorder {
  readonly delivered: Publication[] = [];
  readonly events: string[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  readonly handler = (pub: Publication) => {
    this.delivered.push(pub);
    this.wake();
  };

  readonly engineEvents = {
    link: (up: boolean) => {
      this.events.push(up ? 'up' : 'down');
      this.wake();
    },
    gap: (channel: string, recovered: boolean) => {
      this.events.push(`gap ${channel} ${recovered ? 'recovered' : 'lost'}`);
      this.wake();
    },
  };

  until(check: () => boolean, what: string, timeoutMs = 8_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; events ${this.events.join(', ')}`)),
        timeoutMs,
      );
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  data(channel: string): unknown[] {
    return this.delivered.filter((p) => p.channel === channel).map((p) => p.data);
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

describe.runIf(redisAvailable())('redis engine: loss detection and link faults', () => {
  let redis: RedisProcess;
  let admin: Redis;
  const engines: RedisEngine[] = [];
  let prefix = '';
  let n = 0;

  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    admin?.disconnect();
  });

  async function node(
    options: Partial<RedisEngineOptions> = {},
  ): Promise<{ engine: RedisEngine; rec: Recorder }> {
    const engine = new RedisEngine({ url: redis.url, prefix, ...options });
    engines.push(engine);
    const rec = new Recorder();
    await engine.start(rec.handler, rec.engineEvents);
    return { engine, rec };
  }

  async function fresh(): Promise<void> {
    n += 1;
    prefix = `t${n}:`;
    if (!redis.running) await redis.restart();
    admin = new Redis(redis.url);
  }

  it('fills an offset gap on a live subscription from the stream, in order', async () => {
    await fresh();
    const a = await node();
    const b = await node();
    await a.engine.subscribe('chat:g');
    await b.engine.publish({ channel: 'chat:g', data: 1, history: KEEP });
    await b.engine.publish({ channel: 'chat:g', data: 2, history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 2, '2 deliveries');
    // A publication whose pub/sub message is lost: appended to the stream, never published.
    const keys = new RedisKeys(prefix);
    const offset = await admin.hincrby(keys.position('chat:g'), 'offset', 1);
    const lost: Publication = { id: 'lost-1', channel: 'chat:g', data: 3, at: Date.now() };
    await admin.xadd(keys.log('chat:g'), `${offset}-0`, 'p', encodePayload(lost));
    await b.engine.publish({ channel: 'chat:g', data: 4, history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 4, '4 deliveries');
    expect(a.rec.data('chat:g')).toEqual([1, 2, 3, 4]);
    expect(a.rec.delivered.map((p) => p.offset)).toEqual([1, 2, 3, 4]);
    expect(a.rec.delivered[2]?.id).toBe('lost-1');
    expect(a.rec.events).toEqual(['gap chat:g recovered']);
  });

  it('after its pub/sub link breaks, catches up from the stream what was published meanwhile', async () => {
    await fresh();
    // A slow first reconnect leaves a window in which B publishes what A cannot hear live.
    const a = await node({ retryDelayMs: (attempt) => (attempt === 1 ? 400 : 50) });
    const b = await node();
    await a.engine.subscribe('chat:k');
    await a.engine.subscribe('broadcast');
    await b.engine.publish({ channel: 'chat:k', data: 'before', history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 1, 'the first delivery');
    await admin.client('KILL', 'TYPE', 'pubsub');
    await a.rec.until(() => a.rec.events.includes('down'), 'the link going down');
    expect(a.engine.linkUp).toBe(false);
    for (const data of ['while-down-1', 'while-down-2', 'while-down-3'])
      await b.engine.publish({ channel: 'chat:k', data, history: KEEP });
    await b.engine.publish({ channel: 'broadcast', data: 'unrecoverable (no history)' });
    await a.rec.until(() => a.rec.events.includes('up'), 'the link coming back');
    await b.engine.publish({ channel: 'chat:k', data: 'after', history: KEEP });
    await a.rec.until(() => a.rec.data('chat:k').length === 5, '5 chat:k deliveries');
    expect(a.rec.data('chat:k')).toEqual(['before', 'while-down-1', 'while-down-2', 'while-down-3', 'after']);
    expect(a.rec.delivered.filter((p) => p.channel === 'chat:k').map((p) => p.offset)).toEqual([
      1, 2, 3, 4, 5,
    ]);
    expect(a.rec.data('broadcast')).toEqual([]);
    expect(a.rec.events).toEqual(['down', 'gap chat:k recovered', 'up']);
  });

  it('a channel first subscribed while the link recovers starts where its subscriber was told, not later', async () => {
    await fresh();
    const a = await node();
    const b = await node();
    await a.engine.subscribe('chat:live');
    for (const data of [1, 2, 3]) await b.engine.publish({ channel: 'chat:r', data, history: KEEP });
    // Hold A's recovery at its first re-SUBSCRIBE (a fault injected into the link: the window
    // in which A is connected again but has not subscribed its feeds yet).
    const link = (
      a.engine as unknown as { link: { sub: { subscribe: (...c: string[]) => Promise<unknown> } } }
    ).link;
    const realSubscribe = link.sub.subscribe.bind(link.sub);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = false;
    let reachedGate: () => void = () => {};
    const atGate = new Promise<void>((resolve) => {
      reachedGate = resolve;
    });
    link.sub.subscribe = async (...channels: string[]) => {
      if (!held) {
        held = true;
        reachedGate();
        await gate;
      }
      return realSubscribe(...channels);
    };
    await admin.client('KILL', 'TYPE', 'pubsub');
    await atGate;
    expect(a.engine.linkUp).toBe(false);
    // A subscriber on A joins chat:r now: the engine's subscribe returns (the recovery will
    // subscribe the feed), and the subscriber reads the position it goes live from.
    await a.engine.subscribe('chat:r');
    const told = await a.engine.position('chat:r');
    expect(told.offset).toBe(3);
    // Published after the subscriber was told offset 3, before A's feed is subscribed.
    for (const data of [4, 5]) await b.engine.publish({ channel: 'chat:r', data, history: KEEP });
    release();
    await a.rec.until(() => a.rec.events.includes('up'), 'the link coming back');
    await b.engine.publish({ channel: 'chat:r', data: 6, history: KEEP });
    await a.rec.until(() => a.rec.data('chat:r').includes(6), 'the live publication');
    // Everything after offset 3, each once and in order: the old code started the feed at its
    // own later read (5) and delivered only 6, a silent gap.
    expect(a.rec.data('chat:r')).toEqual([4, 5, 6]);
    expect(a.rec.delivered.filter((p) => p.channel === 'chat:r').map((p) => p.offset)).toEqual([4, 5, 6]);
    expect(a.rec.events).not.toContain('gap chat:r lost');
  });

  it('reports the loss when Redis comes back empty, then follows the new epoch', async () => {
    await fresh();
    const a = await node();
    await a.engine.subscribe('chat:e');
    const first = await a.engine.publish({ channel: 'chat:e', data: 'old', history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 1, 'the first delivery');
    admin.disconnect();
    await redis.kill();
    await a.rec.until(() => a.rec.events.includes('down'), 'the link going down');
    await redis.restart();
    await a.rec.until(() => a.rec.events.includes('up'), 'the link coming back');
    expect(a.rec.events).toEqual(['down', 'gap chat:e lost', 'up']);
    const next = await a.engine.publish({ channel: 'chat:e', data: 'new', history: KEEP });
    expect(next.epoch).not.toBe(first.epoch);
    expect(next.offset).toBe(1);
    await a.rec.until(() => a.rec.delivered.length === 2, 'the delivery in the new epoch');
    expect(a.rec.delivered[1]).toMatchObject({ data: 'new', epoch: next.epoch, offset: 1 });
    const stale = await a.engine.history('chat:e', { since: { epoch: first.epoch ?? '', offset: 1 } }, KEEP);
    expect(stale.complete).toBe(false);
    admin = new Redis(redis.url);
  });

  it('reports a new epoch seen live (the stream was lost without the link breaking)', async () => {
    await fresh();
    const a = await node();
    await a.engine.subscribe('chat:f');
    await a.engine.publish({ channel: 'chat:f', data: 1, history: KEEP });
    await a.engine.publish({ channel: 'chat:f', data: 2, history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 2, '2 deliveries');
    await admin.flushall();
    await a.engine.publish({ channel: 'chat:f', data: 'new-1', history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 3, '3 deliveries');
    expect(a.rec.events).toEqual(['gap chat:f lost']);
    expect(a.rec.delivered[2]).toMatchObject({ data: 'new-1', offset: 1 });
  });

  it('while Redis is down: local delivery without history, broker_unavailable with history', async () => {
    await fresh();
    const a = await node();
    await a.engine.subscribe('broadcast');
    admin.disconnect();
    await redis.kill();
    await a.rec.until(() => a.rec.events.includes('down'), 'the link going down');
    await a.engine.publish({ channel: 'broadcast', data: 'local only' });
    await a.rec.until(() => a.rec.delivered.length === 1, 'the local delivery');
    expect(a.rec.data('broadcast')).toEqual(['local only']);
    const refused = { code: 'broker_unavailable', status: 503 };
    await expect(a.engine.publish({ channel: 'chat:x', data: 1, history: KEEP })).rejects.toMatchObject(
      refused,
    );
    await expect(a.engine.history('chat:x', {}, KEEP)).rejects.toMatchObject(refused);
    await expect(a.engine.presenceCount('chat:x')).rejects.toMatchObject(refused);
    // A subscription made while down is in place once Redis is back.
    await a.engine.subscribe('chat:y');
    await redis.restart();
    await a.rec.until(() => a.rec.events.includes('up'), 'the link coming back');
    const b = await node();
    await b.engine.publish({ channel: 'chat:y', data: 'hello again', history: KEEP });
    await b.engine.publish({ channel: 'broadcast', data: 'cluster again' });
    await a.rec.until(() => a.rec.delivered.length === 3, 'cluster deliveries');
    expect(a.rec.data('chat:y')).toEqual(['hello again']);
    expect(a.rec.data('broadcast')).toEqual(['local only', 'cluster again']);
    admin = new Redis(redis.url);
  });

  it('notices a Redis that hangs without closing the connection (PING unanswered), and comes back', async () => {
    await fresh();
    const a = await node({ linkCheckMs: 100, commandTimeoutMs: 200, retryDelayMs: () => 50 });
    await a.engine.subscribe('chat:h');
    redis.pause();
    try {
      await a.rec.until(() => a.rec.events.includes('down'), 'the link check to give up');
    } finally {
      redis.resume();
    }
    await a.rec.until(() => a.rec.events.includes('up'), 'the link coming back');
    const pub = await a.engine.publish({ channel: 'chat:h', data: 'alive', history: KEEP });
    await a.rec.until(() => a.rec.delivered.length === 1, 'a delivery');
    expect(a.rec.delivered[0]).toMatchObject({ data: 'alive', offset: pub.offset });
  });

  it('fails to start with a clear error when Redis cannot be reached', async () => {
    const engine = new RedisEngine({ url: 'redis://127.0.0.1:1' });
    await expect(engine.start(() => {})).rejects.toThrow(
      /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1.*ECONNREFUSED/,
    );
  });
});
