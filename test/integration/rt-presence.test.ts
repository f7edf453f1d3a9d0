import { afterEach, describe, expect, it } from 'vitest';
import type { ServerOptions } from '../../src/server/options.js';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

interface Members {
  members: { client: string; user?: string; connectedAt: number }[];
}

let srv: RunningServer;
const closers: (() => void)[] = [];

async function start(debounceMs: number, extra: ServerOptions = {}): Promise<void> {
  srv = await startServer({
    namespaces: [
      {
        pattern: 'chat:*',
        history: { size: 100, ttlMs: 60_000 },
        presence: true,
        joinLeaveDebounceMs: debounceMs,
      },
      { pattern: 'quiet:*', presence: true, joinLeave: false },
    ],
    ...extra,
  });
}

async function rt(): Promise<RtClient> {
  const c = await RtClient.connect(`${srv.wsUrl}/rt`);
  closers.push(() => c.ws.terminate());
  return c;
}

/** The client id the server gave `c`: published once on a scratch channel and read back from `from`. */
async function idOf(c: RtClient): Promise<string> {
  await c.call('subscribe', { channel: 'broadcast' });
  await c.call('publish', { channel: 'broadcast', data: 'who am i' });
  const push = await c.nextPush((p) => p.op === 'message' && p.channel === 'broadcast');
  await c.call('unsubscribe', { channel: 'broadcast' });
  if (push.op !== 'message' || !push.from) throw new Error('no from');
  return push.from.client;
}

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await srv.close();
});

function clientsOf(result: Members): string[] {
  return result.members.map((m) => m.client).sort();
}

describe('presence', () => {
  it('lists members and pushes join and leave as /rt and plain clients come and go', async () => {
    await start(0);
    const a = await rt();
    const aId = await idOf(a);
    await a.call('subscribe', { channel: 'chat:lobby' });
    const own = await a.call<Members>('presence', { channel: 'chat:lobby' });
    expect(own.members).toEqual([{ client: aId, connectedAt: expect.any(Number) }]);
    expect(Math.abs((own.members[0]?.connectedAt ?? 0) - Date.now())).toBeLessThan(60_000);

    const b = await rt();
    const bId = await idOf(b);
    await b.call('subscribe', { channel: 'chat:lobby' });
    expect(await a.nextPush()).toEqual({ op: 'join', channel: 'chat:lobby', client: bId });
    expect(clientsOf(await b.call<Members>('presence', { channel: 'chat:lobby' }))).toEqual(
      [aId, bId].sort(),
    );

    // A plain /chat client is a member of the same channel.
    const plain = await TestClient.connect(`${srv.wsUrl}/chat/lobby`);
    closers.push(() => plain.ws.terminate());
    const plainJoin = await a.nextPush();
    expect(plainJoin).toMatchObject({ op: 'join', channel: 'chat:lobby' });
    const plainId = plainJoin.op === 'join' ? plainJoin.client : '';
    expect(await b.nextPush()).toEqual(plainJoin);
    expect(clientsOf(await a.call<Members>('presence', { channel: 'chat:lobby' }))).toEqual(
      [aId, bId, plainId].sort(),
    );

    await plain.close();
    expect(await a.nextPush()).toEqual({ op: 'leave', channel: 'chat:lobby', client: plainId });
    await b.call('unsubscribe', { channel: 'chat:lobby' });
    expect(await a.nextPush()).toEqual({ op: 'leave', channel: 'chat:lobby', client: bId });
    expect(clientsOf(await a.call<Members>('presence', { channel: 'chat:lobby' }))).toEqual([aId]);

    // A dropped connection leaves too.
    const c = await rt();
    const cId = await idOf(c);
    await c.call('subscribe', { channel: 'chat:lobby' });
    expect(await a.nextPush()).toMatchObject({ op: 'join', client: cId });
    c.ws.terminate();
    expect(await a.nextPush()).toEqual({ op: 'leave', channel: 'chat:lobby', client: cId });
    // Nobody hears their own join.
    expect(a.frames.some((f) => f.op === 'join' && f.client === aId)).toBe(false);
  });

  it('debounces: a join and leave inside the window announce nothing', async () => {
    await start(150);
    const a = await rt();
    await a.call('subscribe', { channel: 'chat:lobby' });
    const flicker = await rt();
    await flicker.call('subscribe', { channel: 'chat:lobby' });
    await flicker.call('unsubscribe', { channel: 'chat:lobby' });
    const steady = await rt();
    const steadyId = await idOf(steady);
    await steady.call('subscribe', { channel: 'chat:lobby' });
    // The first push a hears is steady's join, a debounce later: the flicker was never news.
    expect(await a.nextPush()).toEqual({ op: 'join', channel: 'chat:lobby', client: steadyId });
    expect(a.pendingPushes()).toEqual([]);
    expect(clientsOf(await a.call<Members>('presence', { channel: 'chat:lobby' }))).toHaveLength(2);
  });

  it('keeps presence without pushes when joinLeave is off, and refuses presence where it is off', async () => {
    await start(0);
    const a = await rt();
    await a.call('subscribe', { channel: 'quiet:x' });
    const b = await rt();
    await b.call('subscribe', { channel: 'quiet:x' });
    expect((await a.call<Members>('presence', { channel: 'quiet:x' })).members).toHaveLength(2);
    await a.call('ping');
    expect(a.pendingPushes()).toEqual([]);
    expect(await a.request('presence', { channel: 'broadcast' })).toMatchObject({
      op: 'error',
      code: 'not_enabled',
    });
  });

  it('serves presence over REST', async () => {
    await start(0);
    const a = await rt();
    const aId = await idOf(a);
    await a.call('subscribe', { channel: 'chat:lobby' });
    const res = await fetch(`${srv.url}/api/channels/chat:lobby/presence`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      channel: 'chat:lobby',
      members: [{ client: aId, connectedAt: expect.any(Number) }],
    });
  });
});
