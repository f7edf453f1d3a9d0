import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { eventually, get } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TrackingSubscriber } from '../support/tracking-subscriber.js';

describe.runIf(redisAvailable())('a node whose Redis link breaks while Redis keeps its data', () => {
  let redis: RedisProcess;
  let A: RunningServer;
  let B: RunningServer;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    // A reconnects only after 300 ms: B publishes in the meantime what A cannot hear live.
    A = await startServer({ redis: { url: redis.url, retryDelayMs: () => 300 } });
    B = await startServer({ redis: redis.url });
  });
  afterAll(async () => {
    await A?.close();
    await B?.close();
    await redis.stop();
  });

  it('fills the gap from the stream: its clients get every publication, in order, and stay connected', async () => {
    const channel = 'chat:blip';
    const onA = new TrackingSubscriber(() => `${A.wsUrl}/rt`, channel);
    const onB = new TrackingSubscriber(() => `${B.wsUrl}/rt`, channel);
    await onA.start();
    await onB.start();
    const publisher = await RtClient.connect(`${B.wsUrl}/rt`);
    const publish = async (n: number) => {
      const reply = await publisher.call<{ offset: number }>('publish', { channel, data: { n } });
      return reply.offset;
    };
    for (let n = 1; n <= 5; n += 1) await publish(n);
    await eventually('A to hear the first publications', async () => onA.last?.offset === 5);

    const admin = new Redis(redis.url);
    const nodeId = (A.server.hub.engine as RedisEngine).nodeId;
    const list = await admin.client('LIST');
    const subId = /id=(\d+) .*name=wirehub:([^ ]+):sub/
      .exec(
        String(list)
          .split('\n')
          .find((l) => l.includes(`name=wirehub:${nodeId}:sub`)) ?? '',
      )
      ?.at(1);
    expect(subId).toBeDefined();
    await admin.client('KILL', 'ID', subId ?? '');
    admin.disconnect();
    await eventually('A to notice', async () => !A.server.hub.brokerUp);
    // While A is away, B goes on publishing (its own link is fine): paced, and fewer than the
    // 100 publications chat:* channels keep, so the stream still has all of them.
    let last = 5;
    while (!A.server.hub.brokerUp && last < 60) {
      last = await publish(last + 1);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(last).toBeGreaterThan(6);
    last = await publish(last + 1);

    await eventually('both subscribers at the last publication', async () =>
      [onA, onB].every((s) => s.last?.offset === last),
    );
    for (const s of [onA, onB]) {
      s.assertNoSilentGap();
      expect(s.closeCodes).toEqual([]);
      expect(s.messages().map((m) => m.position.offset)).toEqual(
        Array.from({ length: last }, (_, i) => i + 1),
      );
    }
    const metrics = String((await get(A, '/metrics')).body);
    expect(metrics).toMatch(/^wirehub_broker_reconnects_total 1$/m);
    expect(metrics).toMatch(/^wirehub_broker_gaps_total\{result="recovered"\} 1$/m);
    expect(metrics).toMatch(/^wirehub_broker_gaps_total\{result="lost"\} 0$/m);
    for (const s of [onA, onB]) await s.stop();
    await publisher.close();
  });
});
