import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, get, startNodes } from '../support/cluster.js';
import { type Ack, PositionLedger, PublishBurst } from '../support/publish-burst.js';
import { type RedisPersistence, RedisProcess, redisAvailable } from '../support/redis.js';
import type { RunningServer } from '../support/server.js';
import { TrackingSubscriber } from '../support/tracking-subscriber.js';

const CHANNELS = ['durable:a', 'durable:b'];
const NAMESPACES = [{ pattern: 'durable:*', history: { size: 100_000, ttlMs: 60 * 60 * 1000 } }];

/**
 * Cuts the tail off Redis's append-only file: the writes of the last moments that
 * `appendfsync everysec` had not synced yet, which a power loss takes with it.
 */
function loseAofTail(dir: string): number {
  const aofDir = join(dir, 'appendonlydir');
  const incr = readdirSync(aofDir).filter((f) => f.endsWith('.incr.aof'));
  let cut = 0;
  for (const name of incr) {
    const file = join(aofDir, name);
    const size = statSync(file).size;
    const keep = Math.floor(size * 0.6);
    truncateSync(file, keep);
    cut += size - keep;
  }
  return cut;
}

describe.runIf(redisAvailable())('Redis with persistence killed mid-burst and restarted on its data', () => {
  let redis: RedisProcess | undefined;
  let nodes: RunningServer[] = [];
  afterEach(async () => {
    for (const node of nodes) await node.close();
    nodes = [];
    await redis?.stop();
  });

  /**
   * Two nodes publish flat out (/rt and HTTP) while tracking subscribers on both follow the
   * channels; Redis is killed with SIGKILL and restarted on the same dir after `loseData`
   * made its files miss the last acked publications, as a crash or a power loss does.
   */
  async function scenario(
    persistence: RedisPersistence,
    loseData: (redis: RedisProcess, burst: PublishBurst) => Promise<void>,
  ) {
    redis = await RedisProcess.start({ persistence });
    const r = redis;
    nodes = await startNodes(2, r.url, {
      namespaces: NAMESPACES,
      redis: { url: r.url, retryDelayMs: () => 100 },
      limits: { messageRate: 0 },
    });
    const subscribers = nodes.flatMap((node) =>
      CHANNELS.map((channel) => new TrackingSubscriber(() => `${node.wsUrl}/rt`, channel)),
    );
    for (const s of subscribers) await s.start();
    const burst = new PublishBurst({
      nodes,
      channels: CHANNELS,
      rtPublishers: 4,
      window: 8,
      httpPublishers: 2,
      tag: persistence,
    });
    await burst.start();
    await eventually('a first part of the burst', async () => burst.acks.length >= 300, 30_000, 5);
    await loseData(r, burst);
    await r.kill();
    if (persistence === 'aof-everysec') expect(loseAofTail(r.dir)).toBeGreaterThan(0);
    const ackedBeforeRestart = burst.acks.length;
    await r.restart();
    await eventually(
      'the nodes to be ready again',
      async () => (await Promise.all(nodes.map((n) => get(n, '/readyz')))).every((x) => x.status === 200),
      30_000,
    );
    await eventually(
      'publications after the restart',
      async () => burst.acks.length >= ackedBeforeRestart + 300,
      30_000,
      5,
    );
    await burst.stop();
    // Acks come back out of order (several in flight): the newest is the highest offset.
    const newest = new Map<string, Ack>();
    for (const ack of burst.acks.slice(ackedBeforeRestart)) {
      const known = newest.get(ack.channel);
      if (!known || ack.position.offset > known.position.offset) newest.set(ack.channel, ack);
    }
    await eventually('every subscriber at the last publication', async () =>
      subscribers.every((s) => {
        const at = newest.get(s.channel)?.position;
        return s.last?.epoch === at?.epoch && s.last !== undefined && s.last.offset >= (at?.offset ?? 0);
      }),
    );
    for (const s of subscribers) await s.stop();
    return { acks: burst.acks, subscribers, ackedBeforeRestart };
  }

  function check({ acks, subscribers, ackedBeforeRestart }: Awaited<ReturnType<typeof scenario>>): void {
    // No position was acked (or delivered) with two different payloads.
    const ledger = new PositionLedger();
    for (const ack of acks) ledger.record(ack.channel, ack.position, ack.data);
    for (const s of subscribers) for (const m of s.messages()) ledger.record(s.channel, m.position, m.data);
    expect(ledger.reused()).toEqual([]);
    // The restored streams went on in a new epoch.
    for (const channel of CHANNELS) {
      const mine = acks.filter((a) => a.channel === channel);
      const before = mine.slice(0, Math.floor(ackedBeforeRestart / CHANNELS.length) - 10);
      expect(new Set(before.map((a) => a.position.epoch)).has(mine.at(-1)?.position.epoch ?? '')).toBe(false);
    }
    for (const s of subscribers) {
      // Exact replays or recovered: false, never a silent gap…
      s.assertNoSilentGap();
      // …and here the restored stream cannot replay what it lost: the subscriber was told.
      expect(s.closeCodes).toContain(1012);
      expect(
        s.seen.some((e) => e.kind === 'subscribed' && e.since !== undefined && e.recovered === false),
      ).toBe(true);
    }
  }

  it('RDB: a restart from the last snapshot hands out no acked offset again', async () => {
    const outcome = await scenario('rdb', async (r, burst) => {
      // A snapshot now; what is acked after it is lost by the kill.
      const client = new Redis(r.url);
      await client.save();
      client.disconnect();
      const saved = burst.acks.length;
      await eventually('acks after the snapshot', async () => burst.acks.length >= saved + 200, 30_000, 5);
    });
    check(outcome);
  }, 120_000);

  it('AOF everysec: a restart from a file that lost its unsynced tail hands out no acked offset again', async () => {
    const outcome = await scenario('aof-everysec', async () => {});
    check(outcome);
  }, 120_000);
});
