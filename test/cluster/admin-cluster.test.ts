import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { get, startNodes } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import type { RunningServer } from '../support/server.js';

interface Listing {
  connections: { node: string; id: string; endpoint: string; channels: string[] }[];
  missing: string[];
}

describe.runIf(redisAvailable())('the admin API across nodes on one Redis', () => {
  let redis: RedisProcess;
  let nodes: RunningServer[];
  let A: RunningServer;
  let B: RunningServer;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    nodes = await startNodes(2, redis.url);
    [A, B] = nodes as [RunningServer, RunningServer];
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await redis.stop();
  });

  it('any node lists the connections and channels of every node, and disconnects a client held by another', async () => {
    const onB = await TestClient.connect(`${B.wsUrl}/chat/lobby`);
    const first = (await get(A, '/api/admin/connections?endpoint=chat')).body as Listing;
    // The one chat connection there is, listed by A, is held by B.
    const bNode = first.connections[0]?.node;
    expect(first.connections).toHaveLength(1);
    const onA = await TestClient.connect(`${A.wsUrl}/chat/lobby`);
    try {
      const nodeList = (await get(A, '/api/admin/nodes')).body as {
        nodes: { node: string }[];
        missing: string[];
      };
      expect(nodeList.nodes).toHaveLength(2);
      expect(nodeList.missing).toEqual([]);

      const listing = (await get(A, '/api/admin/connections?endpoint=chat')).body as Listing;
      expect(listing.missing).toEqual([]);
      expect(listing.connections).toHaveLength(2);
      expect(new Set(listing.connections.map((c) => c.node)).size).toBe(2);
      for (const c of listing.connections) expect(c.channels).toEqual(['chat:lobby']);

      const channels = (await get(B, '/api/admin/channels')).body as {
        channels: { channel: string; subscribers: number; nodes: number; presence?: number }[];
      };
      expect(channels.channels.find((c) => c.channel === 'chat:lobby')).toMatchObject({
        subscribers: 2,
        nodes: 2,
        presence: 2,
      });

      // The connection B holds, disconnected through A.
      const target = listing.connections.find((c) => c.node === bNode);
      const res = await fetch(`${A.url}/api/admin/disconnect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client: target?.id, code: 4000, reason: 'moved' }),
      });
      expect(await res.json()).toEqual({ disconnected: 1, missing: [] });
      expect(await onB.closed).toEqual({ code: 4000, reason: 'moved' });
      // A's own client stays.
      const after = (await get(A, '/api/admin/connections?endpoint=chat')).body as Listing;
      expect(after.connections.map((c) => c.node)).not.toContain(bNode);
      expect(after.connections).toHaveLength(1);
    } finally {
      onA.ws.terminate();
      onB.ws.terminate();
    }
  });
});
