import { afterEach, describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { HistoryPolicy, HistoryQuery, HistoryResult } from '../../src/engine/types.js';
import { RT_RECOVERY_MAX } from '../../src/protocol/index.js';
import type { ServerOptions } from '../../src/server/options.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

interface Position {
  epoch: string;
  offset: number;
}
interface SubscribeResult extends Partial<Position> {
  recovered?: boolean;
  publications: { channel: string; epoch: string; offset: number; data: unknown }[];
}

const servers: RunningServer[] = [];
const clients: RtClient[] = [];

async function start(options: ServerOptions = {}): Promise<RunningServer> {
  const srv = await startServer({
    namespaces: [
      { pattern: 'small:*', history: { size: 3, ttlMs: 60_000 } },
      { pattern: 'big:*', history: { size: 10_000, ttlMs: 60_000 } },
    ],
    ...options,
  });
  servers.push(srv);
  return srv;
}

async function rt(srv: RunningServer): Promise<RtClient> {
  const c = await RtClient.connect(`${srv.wsUrl}/rt`);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function publishN(c: RtClient, channel: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i += 1) await c.call('publish', { channel, data: { n: i } });
}

describe('recovery after a disconnect', () => {
  it('replays exactly the N missed publications in order, with recovered: true, then goes live', async () => {
    const srv = await start();
    const publisher = await rt(srv);
    const a = await rt(srv);
    await a.call('subscribe', { channel: 'chat:lobby' });
    await publishN(publisher, 'chat:lobby', 1, 2);
    const seen = [await a.nextPush(), await a.nextPush()];
    const last = seen[1] as unknown as Position;
    expect(last.offset).toBe(2);
    a.ws.terminate();

    await publishN(publisher, 'chat:lobby', 3, 9);
    const back = await rt(srv);
    const result = await back.call<SubscribeResult>('subscribe', {
      channel: 'chat:lobby',
      since: { epoch: last.epoch, offset: last.offset },
    });
    expect(result.recovered).toBe(true);
    expect(result.epoch).toBe(last.epoch);
    expect(result.offset).toBe(9);
    expect(result.publications.map((p) => p.offset)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(result.publications.map((p) => p.data)).toEqual([3, 4, 5, 6, 7, 8, 9].map((n) => ({ n })));
    expect(result.publications.every((p) => p.channel === 'chat:lobby' && p.epoch === last.epoch)).toBe(true);

    await publishN(publisher, 'chat:lobby', 10, 10);
    expect(await back.nextPush()).toMatchObject({ op: 'message', offset: 10, data: { n: 10 } });
    expect(back.pendingPushes()).toEqual([]);
  });

  it('says recovered: false with the current position when the missed part was trimmed', async () => {
    const srv = await start();
    const publisher = await rt(srv);
    const first = await publisher.call<Position>('publish', { channel: 'small:x', data: 1 });
    await publishN(publisher, 'small:x', 2, 6);
    const c = await rt(srv);
    const result = await c.call<SubscribeResult>('subscribe', { channel: 'small:x', since: first });
    expect(result).toEqual({ epoch: first.epoch, offset: 6, recovered: false, publications: [] });
    await publishN(publisher, 'small:x', 7, 7);
    expect(await c.nextPush()).toMatchObject({ offset: 7 });
  });

  it('says recovered: true when the trimmed part was already seen', async () => {
    const srv = await start();
    const publisher = await rt(srv);
    await publishN(publisher, 'small:x', 1, 4);
    const pos = await publisher.call<Position>('publish', { channel: 'small:x', data: 5 });
    await publishN(publisher, 'small:x', 6, 7);
    const c = await rt(srv);
    const result = await c.call<SubscribeResult>('subscribe', { channel: 'small:x', since: pos });
    expect(result.recovered).toBe(true);
    expect(result.publications.map((p) => p.offset)).toEqual([6, 7]);
  });

  it('says recovered: false when the epoch changed', async () => {
    const srv = await start();
    const c = await rt(srv);
    await publishN(c, 'chat:e', 1, 2);
    const result = await c.call<SubscribeResult>('subscribe', {
      channel: 'chat:e',
      since: { epoch: 'e-gone', offset: 1 },
    });
    expect(result).toMatchObject({ recovered: false, offset: 2, publications: [] });
    expect(result.epoch).not.toBe('e-gone');
  });

  it(`replays at most ${RT_RECOVERY_MAX} publications; beyond that recovered: false, and history pages the gap`, async () => {
    const srv = await start();
    const hub = srv.server.hub;
    const first = await hub.publish({ channel: 'big:many', data: 0 });
    const since = { epoch: first.epoch ?? '', offset: first.offset ?? 0 };
    for (let i = 1; i <= RT_RECOVERY_MAX; i += 1) await hub.publish({ channel: 'big:many', data: i });
    const c = await rt(srv);
    const atMax = await c.call<SubscribeResult>('subscribe', { channel: 'big:many', since });
    expect(atMax.recovered).toBe(true);
    expect(atMax.publications).toHaveLength(RT_RECOVERY_MAX);
    await c.call('unsubscribe', { channel: 'big:many' });
    await hub.publish({ channel: 'big:many', data: 'one too many' });
    const over = await c.call<SubscribeResult>('subscribe', { channel: 'big:many', since });
    expect(over).toEqual({
      epoch: since.epoch,
      offset: RT_RECOVERY_MAX + 2,
      recovered: false,
      publications: [],
    });
    const page = await c.call<{ complete: boolean; publications: unknown[] }>('history', {
      channel: 'big:many',
      since,
      limit: 1000,
    });
    expect(page.complete).toBe(true);
    expect(page.publications).toHaveLength(1000);
  });

  it('neither loses nor repeats publications that arrive while the replay is read', async () => {
    // An engine whose history read waits for the test: publications land in the window
    // between subscribing and reading history, as they do with a networked engine.
    const engine = new GatedEngine();
    const srv = await start({ engine });
    const publisher = await rt(srv);
    const first = await publisher.call<Position>('publish', { channel: 'chat:race', data: 1 });
    await publishN(publisher, 'chat:race', 2, 3);
    const c = await rt(srv);
    const entered = engine.holdNextHistory();
    const subscribed = c.call<SubscribeResult>('subscribe', { channel: 'chat:race', since: first });
    await entered;
    await publishN(publisher, 'chat:race', 4, 8);
    engine.release();
    const result = await subscribed;
    expect(result.recovered).toBe(true);
    // Nothing was pushed before the reply.
    expect(c.frames.findIndex((f) => f.op === 'message')).toBe(-1);
    await publishN(publisher, 'chat:race', 9, 10);
    const offsets = result.publications.map((p) => p.offset);
    while ((offsets.at(-1) ?? 0) < 10) offsets.push(((await c.nextPush()) as unknown as Position).offset);
    expect(offsets).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await c.call('ping');
    expect(c.pendingPushes()).toEqual([]);
  });
});

/** The memory engine, but `history()` can be held until the test releases it. */
class GatedEngine extends MemoryEngine {
  private hold: { entered: () => void; gate: Promise<void> } | undefined;
  private open = () => {};

  holdNextHistory(): Promise<void> {
    return new Promise((entered) => {
      const gate = new Promise<void>((resolve) => {
        this.open = resolve;
      });
      this.hold = { entered, gate };
    });
  }

  release(): void {
    this.open();
  }

  override async history(
    channel: string,
    query: HistoryQuery,
    policy: HistoryPolicy,
  ): Promise<HistoryResult> {
    const hold = this.hold;
    if (hold) {
      this.hold = undefined;
      hold.entered();
      await hold.gate;
    }
    return super.history(channel, query, policy);
  }
}

describe('server restart on the same data dir', () => {
  it('keeps history, offsets and epoch', async () => {
    const dataDir = tempDir();
    const before = await start({ dataDir });
    const p1 = await rt(before);
    const a = await rt(before);
    await a.call('subscribe', { channel: 'chat:lobby' });
    await publishN(p1, 'chat:lobby', 1, 2);
    await a.nextPush();
    const seen = (await a.nextPush()) as unknown as Position;
    a.ws.terminate();
    await publishN(p1, 'chat:lobby', 3, 5);
    await before.close();

    const after = await start({ dataDir });
    const back = await rt(after);
    const result = await back.call<SubscribeResult>('subscribe', {
      channel: 'chat:lobby',
      since: { epoch: seen.epoch, offset: seen.offset },
    });
    expect(result).toMatchObject({ recovered: true, epoch: seen.epoch, offset: 5 });
    expect(result.publications.map((p) => p.data)).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
    expect(await back.call('publish', { channel: 'chat:lobby', data: 'after restart' })).toEqual({
      epoch: seen.epoch,
      offset: 6,
    });
  });

  it('with the memory engine, a restart is an epoch change: recovered: false', async () => {
    const before = await start({ engine: new MemoryEngine() });
    const c = await rt(before);
    const pos = await c.call<Position>('publish', { channel: 'chat:m', data: 1 });
    await before.close();
    const after = await start({ engine: new MemoryEngine() });
    const back = await rt(after);
    const result = await back.call<SubscribeResult>('subscribe', { channel: 'chat:m', since: pos });
    expect(result).toMatchObject({ recovered: false, offset: 0, publications: [] });
    expect(result.epoch).not.toBe(pos.epoch);
  });
});
