import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { eventually, fastChatNamespaces, get, publishVia, startNodes } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { RtClient } from '../support/rt-client.js';
import { tempDir } from '../support/server.js';

interface Message {
  op: 'message';
  channel: string;
  epoch?: string;
  offset?: number;
  data: unknown;
}

/** Where a client connects: a node (its own process), or a `--workers` server's shared port. */
interface Node {
  url: string;
  wsUrl: string;
}

/** One way to run "three processes that behave as one server". */
interface SetUp {
  name: string;
  available: boolean;
  /** Starts the processes: A, B and C, and how to stop them. */
  start(): Promise<{ nodes: [Node, Node, Node]; stop(): Promise<void> }>;
  /** What a ready process says of itself (`/readyz`, `/healthz`, `/metrics`). */
  checkReady(node: Node): Promise<void>;
  /** Clients connected one after another to A, B and C are served by three processes. */
  checkSpread(clients: { worker: string | undefined }[]): void;
}

const redisNodes = (): SetUp => {
  let redis: RedisProcess;
  return {
    name: 'three nodes on one Redis',
    available: redisAvailable(),
    async start() {
      redis = await RedisProcess.start();
      const nodes = await startNodes(3, redis.url);
      for (const node of nodes) expect(node.server.hub.engine.kind).toBe('redis');
      return {
        nodes: nodes as unknown as [Node, Node, Node],
        async stop() {
          for (const node of nodes) await node.close();
          await redis.stop();
        },
      };
    },
    async checkReady(node) {
      expect(await get(node, '/readyz')).toMatchObject({ status: 200 });
      const metrics = String((await get(node, '/metrics')).body);
      expect(metrics).toMatch(/^wirehub_broker_up 1$/m);
      expect(metrics).toMatch(/^wirehub_broker_gaps_total\{result="lost"\} 0$/m);
    },
    // Three in-process servers: three nodes by construction.
    checkSpread() {},
  };
};

const threeWorkers = (): SetUp => {
  let server: CliServer;
  return {
    name: 'serve --workers 3 (no Redis)',
    available: true,
    async start() {
      const dir = tempDir();
      const namespaces = join(dir, 'namespaces.json');
      writeFileSync(namespaces, JSON.stringify(fastChatNamespaces));
      server = await startCliServer([
        '--workers',
        '3',
        '--data-dir',
        join(dir, 'data'),
        '--namespaces',
        namespaces,
        '--dashboard',
        'false',
      ]);
      // Round-robin hands consecutive connections to the workers in turn.
      return {
        nodes: [server, server, server],
        async stop() {
          server.child.kill('SIGTERM');
          const exit = await server.exited;
          expect(exit, server.output().slice(-4000)).toMatchObject({ code: 0 });
        },
      };
    },
    async checkReady(node) {
      // Each probe on a fresh connection: all three workers answer, each ready, each counting three.
      const seen = new Set<unknown>();
      await eventually('every worker answering', async () => {
        const res = await fetch(`${node.url}/readyz`, { headers: { connection: 'close' } });
        const body = (await res.json()) as { status: string; worker: number; workers: unknown };
        expect(res.status).toBe(200);
        expect(res.headers.get('x-wirehub-worker')).toBe(String(body.worker));
        expect(body.workers).toEqual({ alive: 3, wanted: 3 });
        seen.add(body.worker);
        return seen.size === 3;
      });
      const metrics = String((await get(node, '/metrics')).body);
      expect(metrics).toMatch(/^wirehub_workers\{state="alive"\} 3$/m);
      expect(metrics).toMatch(/^wirehub_broker_up 1$/m);
      expect(metrics).toMatch(/^wirehub_broker_gaps_total\{result="lost"\} 0$/m);
      expect(metrics.match(/^wirehub_worker_connections\{worker="\d+"\} \d+$/gm)).toHaveLength(3);
    },
    checkSpread(clients) {
      const workers = clients.map((c) => c.worker);
      expect(workers.every((w) => w !== undefined)).toBe(true);
      expect(new Set(workers).size).toBe(clients.length);
    },
  };
};

for (const setUp of [redisNodes(), threeWorkers()]) {
  describe.runIf(setUp.available)(`${setUp.name} behave as one server`, () => {
    let nodes: Node[];
    let stop: () => Promise<void>;
    const clients: { close(): unknown }[] = [];
    let A: Node;
    let B: Node;
    let C: Node;

    beforeAll(async () => {
      ({ nodes, stop } = await setUp.start());
      [A, B, C] = nodes as [Node, Node, Node];
    }, 60_000);
    afterAll(async () => {
      await stop?.();
    }, 30_000);
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.close();
    });

    async function plain(node: Node, path: string): Promise<TestClient> {
      const c = await TestClient.connect(`${node.wsUrl}${path}`);
      clients.push(c);
      return c;
    }
    async function rt(node: Node): Promise<RtClient> {
      const c = await RtClient.connect(`${node.wsUrl}/rt`);
      clients.push(c);
      return c;
    }

    it('every node is ready and says so', async () => {
      for (const node of nodes) await setUp.checkReady(node);
    });

    it('/chat/{room}: text reaches the room on every node, never the sender, never other rooms', async () => {
      const a = await plain(A, '/chat/lobby');
      const b = await plain(B, '/chat/lobby');
      const c = await plain(C, '/chat/lobby');
      setUp.checkSpread([a, b, c] as TestClient[]);
      const elsewhere = await plain(C, '/chat/other');
      await a.send('hello from A');
      expect(await b.nextText()).toBe('hello from A');
      expect(await c.nextText()).toBe('hello from A');
      await c.send('hello from C');
      // A's next message is C's: it never got its own back.
      expect(await a.nextText()).toBe('hello from C');
      expect(await b.nextText()).toBe('hello from C');
      await elsewhere.send('other room');
      await b.send('last');
      expect(await a.nextText()).toBe('last');
      expect(await c.nextText()).toBe('last');
      expect(a.messages).toEqual([]);
    });

    it('/broadcast: every client on every node, the sender included', async () => {
      const a = await plain(A, '/broadcast');
      const b = await plain(B, '/broadcast');
      const c = await plain(C, '/broadcast');
      await b.send('to everyone');
      for (const client of [a, b, c]) expect(await client.nextText()).toBe('to everyone');
    });

    it('/ws: messages and connection counts are cluster-wide', async () => {
      const a = await plain(A, '/ws');
      const b = await plain(B, '/ws');
      const c = await plain(C, '/ws');
      setUp.checkSpread([a, b, c]);
      for (const client of [a, b, c]) expect(await client.nextJson()).toMatchObject({ type: 'system' });
      await a.send('hi all');
      expect(await a.nextJson()).toMatchObject({ type: 'echo', message: 'Echo: hi all' });
      for (const client of [a, b, c]) {
        expect(await client.nextJson()).toMatchObject({
          type: 'broadcast',
          message: 'Broadcast: hi all',
          connections: 3,
        });
      }
      await c.close();
      for (const client of [a, b]) {
        expect(await client.nextJson()).toMatchObject({
          type: 'system',
          message: 'A client disconnected',
          connections: 2,
        });
      }
    });

    it('presence and join/leave span the nodes', async () => {
      const watcher = await rt(A);
      await watcher.call('subscribe', { channel: 'chat:p' });
      const member = await rt(B);
      await member.call('subscribe', { channel: 'chat:p' });
      expect(await watcher.nextPush((p) => p.op === 'join')).toMatchObject({ op: 'join', channel: 'chat:p' });
      const plainMember = await plain(C, '/chat/p');
      const joined = await watcher.nextPush((p) => p.op === 'join');
      const fromC = await get(C, '/api/channels/chat:p/presence');
      const listed = (fromC.body as { members: { client: string }[] }).members.map((m) => m.client);
      expect(listed).toHaveLength(3);
      expect(listed).toContain((joined as { client: string }).client);
      const viaRt = await member.call<{ members: unknown[] }>('presence', { channel: 'chat:p' });
      expect(viaRt.members).toHaveLength(3);
      await plainMember.close();
      expect(await watcher.nextPush((p) => p.op === 'leave')).toMatchObject({
        op: 'leave',
        client: (joined as { client: string }).client,
      });
      const after = await get(A, '/api/channels/chat:p/presence');
      expect((after.body as { members: unknown[] }).members).toHaveLength(2);
    });

    it('recovery across nodes: drop from A, resubscribe on B with since, get exactly what was missed', async () => {
      const onA = await rt(A);
      await onA.call('subscribe', { channel: 'chat:r' });
      for (const n of [1, 2, 3]) await publishVia(C, 'chat:r', { n });
      const seen: Message[] = [];
      for (let i = 0; i < 3; i += 1) seen.push((await onA.nextPush()) as Message);
      expect(seen.map((m) => m.offset)).toEqual([1, 2, 3]);
      const last = seen[2] as Message;
      onA.ws.terminate();
      for (const n of [4, 5, 6, 7]) await publishVia(C, 'chat:r', { n });
      const onB = await rt(B);
      const result = await onB.call<{ recovered: boolean; offset: number; publications: Message[] }>(
        'subscribe',
        {
          channel: 'chat:r',
          since: { epoch: last.epoch, offset: last.offset },
        },
      );
      expect(result.recovered).toBe(true);
      expect(result.offset).toBe(7);
      expect(result.publications.map((p) => p.data)).toEqual([4, 5, 6, 7].map((n) => ({ n })));
      await publishVia(A, 'chat:r', { n: 8 });
      expect(await onB.nextPush()).toMatchObject({
        op: 'message',
        epoch: last.epoch,
        offset: 8,
        data: { n: 8 },
      });
    });

    it('concurrent publishers on three nodes get gap-free offsets, and every node delivers them in order', async () => {
      const subscribers = [await rt(A), await rt(B), await rt(C)];
      for (const s of subscribers) await s.call('subscribe', { channel: 'chat:busy' });
      setUp.checkSpread(subscribers);
      const publishers = [await rt(A), await rt(B), await rt(C)];
      setUp.checkSpread(publishers);
      const perNode = 40;
      const replies = await Promise.all(
        publishers.flatMap((p, node) =>
          Array.from({ length: perNode }, (_, i) =>
            p.call<{ epoch: string; offset: number }>('publish', { channel: 'chat:busy', data: { node, i } }),
          ),
        ),
      );
      const total = perNode * publishers.length;
      expect(replies.map((r) => r.offset).sort((x, y) => x - y)).toEqual(
        Array.from({ length: total }, (_, i) => i + 1),
      );
      expect(new Set(replies.map((r) => r.epoch)).size).toBe(1);
      for (const s of subscribers) {
        const got: number[] = [];
        for (let i = 0; i < total; i += 1)
          got.push(((await s.nextPush((p) => p.op === 'message')) as Message).offset ?? 0);
        expect(got).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      }
    });

    it('history and the REST API answer the same on every node', async () => {
      const first = await publishVia(A, 'chat:h', 'one');
      await publishVia(B, 'chat:h', 'two');
      for (const node of nodes) {
        const { body } = await get(node, '/api/channels/chat:h/history');
        expect(body).toMatchObject({
          epoch: first.epoch,
          offset: 2,
          complete: true,
          publications: [{ data: 'one' }, { data: 'two' }],
        });
      }
      const b = await plain(B, '/chat/h');
      await publishVia(C, 'chat:h', 'from the API on C');
      expect(await b.nextText()).toBe('from the API on C');
    });
  });
}
