import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { fastChatNamespaces } from '../support/cluster.js';
import { RtClient } from '../support/rt-client.js';
import { API_KEY, http, mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

const servers: RunningServer[] = [];
const clients: { ws: { terminate(): void } }[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function start(): Promise<RunningServer> {
  const srv = await startServer({
    auth: { jwtSecret: SECRET, apiKeys: [API_KEY] },
    namespaces: fastChatNamespaces,
  });
  servers.push(srv);
  return srv;
}

async function admin<T>(srv: RunningServer, path: string, o: { token?: string; body?: unknown } = {}) {
  const r = await http(`${srv.url}${path}`, {
    method: o.body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${o.token ?? API_KEY}`,
      ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
  });
  return { status: r.status, body: JSON.parse(r.body) as T };
}

interface Connection {
  node: string;
  id: string;
  endpoint: string;
  user?: string;
  channels: string[];
  queuedBytes: number;
}

describe('the admin API', () => {
  it('lists every connection with its user, endpoint and channels, and every channel with its counts', async () => {
    const srv = await start();
    const alice = await mintToken({ sub: 'alice' });
    const bob = await mintToken({ sub: 'bob' });
    const a1 = await TestClient.connect(`${srv.wsUrl}/chat/lobby`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    const a2 = await TestClient.connect(`${srv.wsUrl}/echo`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    const b = await RtClient.connect(`${srv.wsUrl}/rt?access_token=${bob}`);
    clients.push(a1, a2, b);
    await b.call('subscribe', { channel: 'chat:lobby' });
    await b.call('subscribe', { channel: 'chat:other' });

    const all = await admin<{ connections: Connection[]; missing: string[] }>(srv, '/api/admin/connections');
    expect(all.status).toBe(200);
    expect(all.body.missing).toEqual([]);
    const byEndpoint = Object.fromEntries(all.body.connections.map((c) => [`${c.user}:${c.endpoint}`, c]));
    expect(Object.keys(byEndpoint).sort()).toEqual(['alice:chat', 'alice:echo', 'bob:rt']);
    expect(byEndpoint['alice:chat']?.channels).toEqual(['chat:lobby']);
    expect(byEndpoint['alice:echo']?.channels).toEqual([]);
    expect(byEndpoint['bob:rt']?.channels.sort()).toEqual(['chat:lobby', 'chat:other']);
    expect(new Set(all.body.connections.map((c) => c.node)).size).toBe(1);

    const onlyBob = await admin<{ connections: Connection[] }>(srv, '/api/admin/connections?user=bob');
    expect(onlyBob.body.connections.map((c) => c.endpoint)).toEqual(['rt']);
    const inLobby = await admin<{ connections: Connection[] }>(
      srv,
      '/api/admin/connections?channel=chat:lobby',
    );
    expect(inLobby.body.connections.map((c) => c.endpoint).sort()).toEqual(['chat', 'rt']);

    await b.call('publish', { channel: 'chat:lobby', data: 'hi' });
    await a1.next();
    const channels = await admin<{ channels: Record<string, unknown>[] }>(srv, '/api/admin/channels');
    const lobby = channels.body.channels.find((c) => c.channel === 'chat:lobby');
    expect(lobby).toMatchObject({ subscribers: 2, nodes: 1, presence: 2, history: { offset: 1 } });
    expect(lobby?.publicationRate).toBeGreaterThan(0);
    expect(channels.body.channels.find((c) => c.channel === 'chat:other')).toMatchObject({ subscribers: 1 });

    const nodes = await admin<{ nodes: { connections: number; channels: number }[] }>(
      srv,
      '/api/admin/nodes',
    );
    expect(nodes.body.nodes).toEqual([expect.objectContaining({ connections: 3, channels: 2 })]);
  });

  it('disconnects one connection, or every connection of a user, with the chosen close code', async () => {
    const srv = await start();
    const alice = await mintToken({ sub: 'alice' });
    const [a1, a2, other] = await Promise.all([
      TestClient.connect(`${srv.wsUrl}/echo`, { headers: { authorization: `Bearer ${alice}` } }),
      TestClient.connect(`${srv.wsUrl}/chat/x`, { headers: { authorization: `Bearer ${alice}` } }),
      TestClient.connect(`${srv.wsUrl}/echo`, { headers: { authorization: `Bearer ${API_KEY}` } }),
    ]);
    clients.push(a1, a2, other);
    const list = await admin<{ connections: Connection[] }>(srv, '/api/admin/connections?endpoint=chat');
    const target = list.body.connections[0]?.id;
    expect(target).toBeDefined();

    const one = await admin<{ disconnected: number }>(srv, '/api/admin/disconnect', {
      body: { client: target, code: 4003, reason: 'bye' },
    });
    expect(one).toEqual({ status: 200, body: { disconnected: 1, missing: [] } });
    // Listed no more from the moment it is closing (what the dashboard reads right after).
    const after = await admin<{ connections: Connection[] }>(srv, '/api/admin/connections?endpoint=chat');
    expect(after.body.connections).toEqual([]);
    expect(await a2.closed).toEqual({ code: 4003, reason: 'bye' });

    const user = await admin<{ disconnected: number }>(srv, '/api/admin/disconnect', {
      body: { user: 'alice' },
    });
    expect(user.body.disconnected).toBe(1);
    expect(await a1.closed).toEqual({ code: 1008, reason: 'disconnected by an administrator' });
    // Others keep their connection.
    await other.send('still here');
    expect(await other.next()).toBe('Echo: still here');
  });

  it('needs the admin grant, and refuses bad requests with a clear error', async () => {
    const srv = await start();
    const plain = await mintToken({ sub: 'carol' });
    const granted = await mintToken({ sub: 'root', wirehub: { admin: true } });
    expect((await admin(srv, '/api/admin/connections', { token: plain })).status).toBe(403);
    expect((await admin(srv, '/api/admin/disconnect', { token: plain, body: { user: 'x' } })).status).toBe(
      403,
    );
    expect((await admin(srv, '/api/admin/channels', { token: granted })).status).toBe(200);
    const noToken = await http(`${srv.url}/api/admin/nodes`);
    expect(noToken.status).toBe(401);

    for (const body of [
      {},
      { client: 'c', user: 'u' },
      { user: 'u', code: 1006 },
      { user: 'u', code: 3000 },
    ]) {
      const r = await admin<{ error: { code: string; message: string } }>(srv, '/api/admin/disconnect', {
        body,
      });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
    }
    const badLimit = await admin<{ error: { code: string } }>(srv, '/api/admin/connections?limit=0');
    expect(badLimit.status).toBe(400);
  });

  it('answers for the nodes that answer and names a live node that does not', async () => {
    const srv = await start();
    // A node that registered and then hangs (its entry stays until its TTL).
    await srv.server.hub.engine.presenceAdd(
      '$admin:nodes',
      { client: 'node-ghost', connectedAt: Date.now() },
      60_000,
    );
    const started = Date.now();
    const r = await admin<{ nodes: { node: string }[]; missing: string[] }>(srv, '/api/admin/nodes');
    expect(r.status).toBe(200);
    expect(r.body.missing).toEqual(['node-ghost']);
    expect(r.body.nodes).toHaveLength(1);
    expect(r.body.nodes[0]?.node).not.toBe('node-ghost');
    // Bounded by the answer timeout (2 s), not by the ghost's TTL.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
