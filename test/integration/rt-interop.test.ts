import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;
const closers: (() => void)[] = [];

beforeEach(async () => {
  srv = await startServer();
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await srv.close();
});

async function rt(): Promise<RtClient> {
  const c = await RtClient.connect(`${srv.wsUrl}/rt`);
  closers.push(() => c.ws.terminate());
  return c;
}

async function plain(path: string): Promise<TestClient> {
  const c = await TestClient.connect(`${srv.wsUrl}${path}`);
  closers.push(() => c.ws.terminate());
  return c;
}

describe('plain endpoints and /rt share channels', () => {
  it('/chat/lobby text reaches /rt subscribers of chat:lobby with from, offset and history', async () => {
    const r = await rt();
    await r.call('subscribe', { channel: 'chat:lobby' });
    const alice = await plain('/chat/lobby');
    await alice.send('hi from the plain side');
    const msg = await r.nextPush((p) => p.op === 'message');
    expect(msg).toEqual({
      op: 'message',
      channel: 'chat:lobby',
      epoch: expect.any(String),
      offset: 1,
      data: 'hi from the plain side',
      from: { client: expect.stringMatching(/^c-/) },
    });
    const history = await r.call<{ publications: { data: unknown }[] }>('history', { channel: 'chat:lobby' });
    expect(history.publications.map((p) => p.data)).toEqual(['hi from the plain side']);
  });

  it('/rt publishes reach /chat clients as plain text: strings as is, other JSON as JSON text', async () => {
    const bob = await plain('/chat/lobby');
    const r = await rt();
    await r.call('publish', { channel: 'chat:lobby', data: 'plain words' });
    expect(await bob.next()).toBe('plain words');
    await r.call('publish', { channel: 'chat:lobby', data: { text: 'hi', n: [1, 2] } });
    expect(await bob.next()).toBe('{"text":"hi","n":[1,2]}');
    await r.call('publish', { channel: 'chat:kitchen', data: 'elsewhere' });
    await r.call('publish', { channel: 'chat:lobby', data: 42 });
    expect(await bob.next()).toBe('42');
  });

  it('a /chat sender still does not hear itself, and an /rt subscriber hears everyone', async () => {
    const alice = await plain('/chat/lobby');
    const bob = await plain('/chat/lobby');
    const r = await rt();
    await r.call('subscribe', { channel: 'chat:lobby' });
    await alice.send('one');
    expect(await bob.next()).toBe('one');
    await bob.send('two');
    expect(await alice.next()).toBe('two');
    const datas: unknown[] = [];
    while (datas.length < 2) {
      const p = await r.nextPush((x) => x.op === 'message');
      if (p.op === 'message') datas.push(p.data);
    }
    expect(datas).toEqual(['one', 'two']);
    expect(alice.messages).toEqual([]);
  });

  it('/broadcast and the broadcast channel are one', async () => {
    const b1 = await plain('/broadcast');
    const r = await rt();
    await r.call('subscribe', { channel: 'broadcast' });
    await b1.send('from plain');
    expect(await b1.next()).toBe('from plain');
    expect(await r.nextPush()).toMatchObject({ op: 'message', channel: 'broadcast', data: 'from plain' });
    await r.call('publish', { channel: 'broadcast', data: 'from rt' });
    expect(await b1.next()).toBe('from rt');
  });

  it('the REST publish API reaches /rt and plain clients', async () => {
    const bob = await plain('/chat/lobby');
    const r = await rt();
    await r.call('subscribe', { channel: 'chat:lobby' });
    const res = await fetch(`${srv.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'chat:lobby', data: 'server says hi' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { epoch: string; offset: number };
    expect(body).toMatchObject({ channel: 'chat:lobby', offset: 1, epoch: expect.any(String) });
    expect(await bob.next()).toBe('server says hi');
    const push = await r.nextPush((p) => p.op === 'message');
    expect(push).toEqual({
      op: 'message',
      channel: 'chat:lobby',
      epoch: body.epoch,
      offset: 1,
      data: 'server says hi',
    });
  });
});
