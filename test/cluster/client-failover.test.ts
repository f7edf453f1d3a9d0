import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../../src/client/index.js';
import { publishVia, startNodes } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { Clients, Gate, nextEvent } from '../support/sdk.js';
import type { RunningServer } from '../support/server.js';
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
});
