import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

// Fan-out through transport groups (Bun's topics, src/hub/fanout.ts). Runs on Node, where every
// delivery is a send of its own, and from scripts/test-bun.sh on Bun's native server, where the
// deliveries that every member of a channel takes alike must go through one topic publish, and
// the per-subscriber rules (sender excluded, output cap, /rt recovery) must hold all the same.
const native = typeof process.versions.bun === 'string' && process.env.WIREHUB_TRANSPORT !== 'node';

const servers: RunningServer[] = [];
const sockets: { ws: { terminate(): void } }[] = [];

async function start(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const srv = await startServer(options);
  servers.push(srv);
  return srv;
}

async function clients(url: string, n: number): Promise<TestClient[]> {
  const out = await Promise.all(Array.from({ length: n }, () => TestClient.connect(url)));
  sockets.push(...out);
  return out;
}

async function rt(srv: RunningServer): Promise<RtClient> {
  const c = await RtClient.connect(`${srv.wsUrl}/rt`);
  sockets.push(c);
  return c;
}

/** The value of one sample of `/metrics`. */
async function metric(srv: RunningServer, sample: string): Promise<number> {
  const text = await srv.server.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** The n of each `/rt` message push so far, in arrival order. */
function ns(c: RtClient): number[] {
  return c.frames.flatMap((f) => (f.op === 'message' ? [(f.data as { n: number }).n] : []));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

afterEach(async () => {
  for (const c of sockets.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

describe(`fan-out (${native ? 'Bun topics' : 'one send per subscriber'})`, () => {
  it('writes a /broadcast publication once for all its subscribers, counted per delivery', async () => {
    const srv = await start();
    const all = await clients(`${srv.wsUrl}/broadcast`, 20);
    const sent = range(1, 50).map(String);
    for (const text of sent) await all[0]?.send(text);
    for (const c of all) expect(await collect(c, sent.length)).toEqual(sent);

    const { counters } = srv.server.hub;
    expect(counters.deliveries).toBe(20 * 50);
    // The test that fails if fan-out under Bun stops taking the topic path.
    expect(counters.groupDeliveries).toBe(native ? 20 * 50 : 0);
    expect(counters.groupWrites).toBe(native ? 50 : 0);
    expect(await metric(srv, 'wirehub_fanout_deliveries_total{path="group"}')).toBe(native ? 1000 : 0);
    expect(await metric(srv, 'wirehub_fanout_deliveries_total{path="send"}')).toBe(native ? 0 : 1000);
    // The session's accounting is the same on both paths.
    const stats = srv.server.metrics.endpoint('broadcast');
    expect(stats.messagesOut).toBe(20 * 50);
    expect(stats.bytesOut).toBe(20 * sent.reduce((n, t) => n + t.length, 0));
  });

  it('/chat: every message reaches the others in the room in order, never its sender', async () => {
    const srv = await start();
    const room = await clients(`${srv.wsUrl}/chat/lobby`, 5);
    const said: { from: number; text: string }[] = [];
    // Turns taken by different senders, so members leave the group and join it again.
    for (let round = 0; round < 4; round += 1) {
      for (let who = 0; who < room.length; who += 1) {
        const text = `${who}:${round}`;
        said.push({ from: who, text });
        await room[who]?.send(text);
        // Wait until the others have it: the next sender's message must come after this one.
        for (let other = 0; other < room.length; other += 1)
          if (other !== who) expect(await room[other]?.nextText()).toBe(text);
      }
    }
    for (const c of room) expect(c.messages).toEqual([]);
    const deliveries = said.length * (room.length - 1);
    expect(srv.server.hub.counters.deliveries).toBe(deliveries);
    expect(srv.server.hub.counters.groupDeliveries).toBe(native ? deliveries : 0);
    // One more after the rounds: nobody got its own message in between.
    await room[2]?.send('last');
    for (const [i, c] of room.entries()) if (i !== 2) expect(await c.nextText()).toBe('last');
    expect(srv.server.metrics.endpoint('chat').messagesOut).toBe(deliveries + room.length - 1);
  });

  it('closes a client over its output cap with 4008 while the others get every publication', async () => {
    const srv = await start({ maxQueuedBytes: 64 * 1024 });
    const fast = await clients(`${srv.wsUrl}/broadcast`, 3);
    const [slow] = await clients(`${srv.wsUrl}/broadcast`, 1);
    if (!slow) throw new Error('no client');
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const stats = srv.server.metrics.endpoint('broadcast');
    const filler = 'x'.repeat(8 * 1024);
    let published = 0;
    // The fast ones read each publication before the next: only the paused one falls behind.
    const next = async () => {
      published += 1;
      await srv.server.hub.publish({ channel: 'broadcast', data: `${published} ${filler}` });
      for (const c of fast) expect(Number(String(await c.next()).split(' ')[0])).toBe(published);
    };
    while (stats.slowDisconnects === 0) {
      await next();
      expect(published).toBeLessThan(20_000);
    }
    for (let i = 0; i < 3; i += 1) await next();
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await slow.closed).code).toBe(4008);
    // What the slow client got before its close is a prefix: no gap, nothing after the cut.
    const got = slow.messages.map((m) => Number(String(m).split(' ')[0]));
    expect(got).toEqual(range(1, got.length));
    expect(got.length).toBeLessThan(published);
    expect(stats.slowDisconnects).toBe(1);
    if (native) expect(srv.server.hub.counters.groupDeliveries).toBeGreaterThan(0);
  });

  it('drops for a slow /rt client on a drop channel, and it gets the later ones once it reads again', async () => {
    const srv = await start({
      maxQueuedBytes: 64 * 1024,
      namespaces: [{ pattern: 'live:*', overflow: 'drop' }],
    });
    const fast = await rt(srv);
    const slow = await rt(srv);
    await fast.call('subscribe', { channel: 'live:x' });
    await slow.call('subscribe', { channel: 'live:x' });
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const stats = srv.server.metrics.endpoint('rt');
    const filler = 'x'.repeat(8 * 1024);
    let published = 0;
    while (stats.drops < 5) {
      published += 1;
      await srv.server.hub.publish({ channel: 'live:x', data: { n: published, filler } });
      const n = published;
      await fast.nextPush((p) => p.op === 'message' && (p.data as { n: number }).n === n);
      expect(published).toBeLessThan(20_000);
    }
    socket.resume();
    // Wait until its queue is written: the next publication then reaches it again.
    // Each write that empties the server's queue for it is followed by data on its socket.
    while (srv.server.queuedBytes() > 0) await once(socket, 'data');
    published += 1;
    await srv.server.hub.publish({ channel: 'live:x', data: { n: published, filler } });
    const last = (p: { op: string; data?: unknown }) =>
      p.op === 'message' && (p.data as { n: number }).n === published;
    await slow.nextPush(last, 10_000);
    await fast.nextPush(last);
    expect(ns(fast)).toEqual(range(1, published));
    const got = ns(slow);
    // Increasing, missing the dropped ones, ending with the last.
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(got.length).toBe(published - stats.drops);
    expect(got.at(-1)).toBe(published);
    expect(slow.ws.readyState).toBe(slow.ws.OPEN);
    if (native) expect(srv.server.hub.counters.groupDeliveries).toBeGreaterThan(0);
  });

  it('a /rt subscriber recovering with since while publications flow gets each one once, in order', async () => {
    const srv = await start({
      namespaces: [{ pattern: 'feed:*', history: { size: 10_000, ttlMs: 60_000 } }],
    });
    const live = [await rt(srv), await rt(srv), await rt(srv)];
    for (const c of live) await c.call('subscribe', { channel: 'feed:x' });
    const publish = (n: number) => srv.server.hub.publish({ channel: 'feed:x', data: { n } });
    for (let n = 1; n <= 20; n += 1) await publish(n);
    const first = live[0]?.frames.find((f) => f.op === 'message' && (f.data as { n: number }).n === 5);
    if (first?.op !== 'message') throw new Error('no publication 5');

    const total = 400;
    const flowing = (async () => {
      for (let n = 21; n <= total; n += 1) await publish(n);
    })();
    const late = await rt(srv);
    const result = await late.call<{ recovered: boolean; publications: { data: { n: number } }[] }>(
      'subscribe',
      { channel: 'feed:x', since: { epoch: first.epoch, offset: first.offset } },
    );
    await flowing;
    await late.nextPush((p) => p.op === 'message' && (p.data as { n: number }).n === total, 10_000);
    expect(result.recovered).toBe(true);
    // Replayed, then live: each publication after `since` once, in order, none missing.
    expect([...result.publications.map((p) => p.data.n), ...ns(late)]).toEqual(range(6, total));
    for (const c of live) {
      await c.nextPush((p) => p.op === 'message' && (p.data as { n: number }).n === total, 10_000);
      expect(ns(c)).toEqual(range(1, total));
    }
    if (native) expect(srv.server.hub.counters.groupDeliveries).toBeGreaterThan(0);
  });
});
