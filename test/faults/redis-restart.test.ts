import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { eventually, get, startNodes } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { RtClient } from '../support/rt-client.js';
import type { RunningServer } from '../support/server.js';
import { TrackingSubscriber } from '../support/tracking-subscriber.js';

interface Ack {
  epoch: string;
  offset: number;
}

/** Publishes to a channel over `/rt` at a steady pace until stopped; counts acks and refusals. */
class Publisher {
  readonly acks: Ack[] = [];
  readonly refusals: string[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly client: RtClient,
    private readonly channel: string,
    private readonly name: string,
  ) {}

  start(): void {
    this.done = (async () => {
      // Bounded: at most 3000 publications, 5 ms apart.
      for (let n = 0; n < 3000 && !this.stopped; n += 1) {
        const reply = await this.client.request('publish', {
          channel: this.channel,
          data: { by: this.name, n },
        });
        if (reply.op === 'reply') this.acks.push(reply.result as Ack);
        else this.refusals.push(reply.code);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Skips a plain client's messages until one matches (bounded by the client's step timeout). */
async function nextMatching(client: TestClient, match: (text: string) => boolean): Promise<string> {
  for (;;) {
    const text = await client.nextText();
    if (match(text)) return text;
  }
}

describe.runIf(redisAvailable())('Redis killed mid-traffic and restarted empty', () => {
  let redis: RedisProcess;
  let nodes: RunningServer[];

  beforeAll(async () => {
    redis = await RedisProcess.start();
    // Reconnect attempts every 100 ms, so the nodes notice the restart quickly.
    nodes = await startNodes(3, redis.url, { redis: { url: redis.url, retryDelayMs: () => 100 } });
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await redis.stop();
  });

  async function readiness(): Promise<number[]> {
    return Promise.all(nodes.map(async (n) => (await get(n, '/readyz')).status));
  }

  it('nodes stay up, local delivery goes on, cluster delivery resumes, and no client has a silent gap', async () => {
    const [A, B, C] = nodes as [RunningServer, RunningServer, RunningServer];
    const channel = 'chat:faults';
    const subscribers = nodes.map((node) => new TrackingSubscriber(() => `${node.wsUrl}/rt`, channel));
    for (const s of subscribers) await s.start();
    const plainChat = await TestClient.connect(`${C.wsUrl}/chat/faults`);
    const localA1 = await TestClient.connect(`${A.wsUrl}/broadcast`);
    const localA2 = await TestClient.connect(`${A.wsUrl}/broadcast`);
    const remoteB = await TestClient.connect(`${B.wsUrl}/broadcast`);
    const publishers = await Promise.all(
      nodes.map(
        async (node, i) => new Publisher(await RtClient.connect(`${node.wsUrl}/rt`), channel, `p${i}`),
      ),
    );
    for (const p of publishers) p.start();

    await eventually('traffic on every subscriber', async () =>
      subscribers.every((s) => s.messages().length >= 15),
    );
    await redis.kill();
    const killedAt = publishers.map((p) => p.refusals.length);
    expect(
      await eventually('every node to report not ready', async () => {
        const statuses = await readiness();
        return statuses.every((s) => s === 503) && statuses;
      }),
    ).toEqual([503, 503, 503]);

    // Down: alive, and local delivery continues (channels without history).
    for (const node of nodes) expect((await get(node, '/healthz')).status).toBe(200);
    expect((await get(A, '/readyz')).body).toMatchObject({ error: { code: 'not_ready' } });
    await localA1.send('while redis is down');
    expect(await localA1.nextText()).toBe('while redis is down');
    expect(await localA2.nextText()).toBe('while redis is down');
    // Publishing on a channel with history is refused, visibly.
    await eventually('refusals while down', async () =>
      publishers.every((p, i) => p.refusals.length > (killedAt[i] ?? 0)),
    );
    expect(new Set(publishers.flatMap((p) => p.refusals))).toEqual(new Set(['broker_unavailable']));
    await plainChat.send('plain chat while down');
    expect(await nextMatching(plainChat, (t) => t.includes('"error"'))).toMatch(
      /"code":"broker_unavailable"/,
    );

    await redis.restart();
    await eventually('every node ready again', async () => (await readiness()).every((s) => s === 200));
    const acksAtRestart = publishers.map((p) => p.acks.length);
    await eventually('publications after the restart', async () =>
      publishers.every((p, i) => p.acks.length >= (acksAtRestart[i] ?? 0) + 15),
    );
    for (const p of publishers) await p.stop();

    // Cluster delivery resumed, plain endpoints included.
    await localA1.send('cluster again');
    expect(await remoteB.nextText()).toBe('cluster again');

    const acks = publishers.flatMap((p) => p.acks);
    const finalEpoch = acks.at(-1)?.epoch ?? '';
    const finalOffsets = acks.filter((a) => a.epoch === finalEpoch).map((a) => a.offset);
    const lastOffset = Math.max(...finalOffsets);
    // Gap-free offsets in the new epoch, whatever node published.
    expect(finalOffsets.sort((x, y) => x - y)).toEqual(Array.from({ length: lastOffset }, (_, i) => i + 1));
    await eventually('every subscriber at the last publication', async () =>
      subscribers.every((s) => s.last?.epoch === finalEpoch && s.last.offset === lastOffset),
    );

    for (const s of subscribers) {
      s.assertNoSilentGap();
      // Redis came back empty: the old epoch is gone, so each was told recovered: false
      // (after its node closed it with 1012) instead of going on with a gap.
      expect(s.closeCodes).toContain(1012);
      const resubscribes = s.seen.filter((e) => e.kind === 'subscribed' && e.since !== undefined);
      expect(resubscribes.some((e) => e.kind === 'subscribed' && e.recovered === false)).toBe(true);
      // Everything of the new epoch after the point it was told to start over is there.
      const startOver = s.seen.findLast(
        (e) => e.kind === 'subscribed' && e.recovered !== true && e.position.epoch === finalEpoch,
      );
      const from = startOver?.kind === 'subscribed' ? startOver.position.offset : 0;
      const got = new Set(
        s
          .messages()
          .filter((m) => m.position.epoch === finalEpoch)
          .map((m) => m.position.offset),
      );
      for (let offset = from + 1; offset <= lastOffset; offset += 1)
        expect(got.has(offset), `offset ${offset}`).toBe(true);
    }

    // The plain chat client stayed connected (it has no recovery) and hears the new epoch.
    expect(await nextMatching(plainChat, (t) => t.includes('"by"'))).toMatch(/"n":/);

    for (const node of nodes) {
      const metrics = String((await get(node, '/metrics')).body);
      expect(metrics).toMatch(/^wirehub_broker_up 1$/m);
      expect(metrics).toMatch(/^wirehub_broker_disconnects_total [1-9]/m);
      expect(metrics).toMatch(/^wirehub_broker_reconnects_total [1-9]/m);
      expect(metrics).toMatch(/^wirehub_broker_gaps_total\{result="lost"\} [1-9]/m);
    }
    for (const s of subscribers) await s.stop();
    for (const c of [plainChat, localA1, localA2, remoteB]) await c.close();
  });
});
