import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../../src/client/index.js';
import { eventually, get, publishVia, startNodes } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { Clients, Gate, nextEvent } from '../support/sdk.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describe.runIf(redisAvailable())('the client SDK across nodes on one Redis', () => {
  let redis: RedisProcess;
  let nodes: RunningServer[] = [];
  const clients = new Clients();

  beforeAll(async () => {
    redis = await RedisProcess.start();
    nodes = await startNodes(2, redis.url, { tasks: false });
  });
  afterAll(async () => {
    await clients.closeAll();
    for (const node of nodes) await node.close();
    await redis?.stop();
  });

  it('fails over to another node when its node drains, and recovers what it missed there', async () => {
    const [A, B] = nodes as [RunningServer, RunningServer];
    // The load balancer: the client keeps one address, the proxy moves it to B.
    const proxy = await TcpProxy.start(A.port);
    try {
      const gate = new Gate();
      const client = clients.make(proxy.wsUrl, { token: gate.pass });
      const got: Publication[] = [];
      await client.subscribe('chat:failover', (pub) => got.push(pub));
      await client.publish('chat:failover', 'one');
      await publishVia(B, 'chat:failover', 'two');
      await vi.waitFor(() => expect(got).toHaveLength(2));
      const before = client.subscription('chat:failover')?.position;

      gate.shut();
      const dropped = nextEvent(client, 'disconnected');
      await A.server.drain(0);
      nodes = [B];
      expect((await dropped).code).toBe(1001);
      proxy.target = B.port;
      await publishVia(B, 'chat:failover', 'three');
      await publishVia(B, 'chat:failover', 'four');

      const recovery = nextEvent(client, 'recovery');
      gate.open();
      expect(await recovery).toEqual({
        channel: 'chat:failover',
        recovered: true,
        replayed: 2,
        since: before,
        position: { epoch: before?.epoch, offset: 4 },
      });
      await client.publish('chat:failover', 'five');
      await vi.waitFor(() => expect(got).toHaveLength(5));
      expect(got.map((p) => p.data)).toEqual(['one', 'two', 'three', 'four', 'five']);
      expect(got.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
      expect(B.server.metrics.endpoint('rt').accepted).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('retries a resubscribe its node refuses for a while (Redis away from that node), and recovers', async () => {
    // The node reaches Redis through a proxy (its link can be cut); the client reaches the
    // node through another (its connection can be dropped).
    const link = await TcpProxy.start(redis.port);
    const C = await startServer({ redis: `redis://127.0.0.1:${link.port}`, tasks: false });
    const front = await TcpProxy.start(C.port);
    try {
      const client = clients.make(front.wsUrl);
      const got: Publication[] = [];
      const errors: unknown[] = [];
      await client.subscribe('chat:retry', (pub) => got.push(pub), { onError: (err) => errors.push(err) });
      await publishVia(C, 'chat:retry', 'one');
      await vi.waitFor(() => expect(got).toHaveLength(1));

      link.block();
      await eventually('C to lose Redis', async () => (await get(C, '/readyz')).status === 503);
      // The client comes back while its node cannot reach Redis: the resubscribe is refused
      // with broker_unavailable, a refusal that says "try again", not "never".
      const back = nextEvent(client, 'connected');
      front.cut();
      await back;
      // Refused: no longer subscribing (waiting to try again, or, before the fix, ended).
      await vi.waitFor(() =>
        expect(client.subscription('chat:retry')?.state ?? 'closed').not.toBe('subscribing'),
      );
      await publishVia(nodes[0] as RunningServer, 'chat:retry', 'two');
      link.unblock();
      await eventually('C to be back', async () => (await get(C, '/readyz')).status === 200);
      await publishVia(C, 'chat:retry', 'three');

      await vi.waitFor(() => expect(got.map((p) => p.data)).toEqual(['one', 'two', 'three']), {
        timeout: 10_000,
      });
      expect(got.map((p) => p.offset)).toEqual([1, 2, 3]);
      expect(errors).toEqual([]);
      expect(client.subscription('chat:retry')?.state).toBe('subscribed');
    } finally {
      await front.close();
      await C.close();
      await link.close();
    }
  });
});
