import { describe, expect, it } from 'vitest';
import type { Grants } from '../../src/hub/permissions.js';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import {
  CHAT_WITHOUT_DEBOUNCE,
  guardedServerPerFile,
  mintToken,
  publishAsServer,
} from '../support/security.js';

const file = guardedServerPerFile({ namespaces: [CHAT_WITHOUT_DEBOUNCE], tasks: false });
const { closers } = file;

/** An `/rt` client whose token carries exactly `grants` (plus the endpoints it needs). */
async function rtAs(user: string, grants: Grants): Promise<RtClient> {
  const token = await mintToken({ sub: user, wirehub: { endpoints: ['rt'], ...grants } });
  const c = await RtClient.connect(`${file.srv.wsUrl}/rt?access_token=${token}`);
  closers.push(() => c.ws.terminate());
  return c;
}

async function plainAs(path: string, user: string, grants: Grants): Promise<TestClient> {
  const token = await mintToken({ sub: user, wirehub: grants });
  const c = await TestClient.connect(`${file.srv.wsUrl}${path}?access_token=${token}`);
  closers.push(() => c.ws.terminate());
  return c;
}

const publish = (channel: string, data: unknown) => publishAsServer(file.srv.url, channel, data);

/** Everyone may do everything on chat channels. */
const chatAll: Grants = {
  subscribe: ['chat:*'],
  publish: ['chat:*'],
  history: ['chat:*'],
  presence: ['chat:*'],
};

describe('/rt with a token for other channels', () => {
  it('answers forbidden on each command the grants do not cover, and the socket stays open', async () => {
    const alice = await rtAs('alice', { subscribe: ['chat:team'], publish: ['chat:team'] });
    const refused: [string, Record<string, unknown>, string][] = [
      ['subscribe', { channel: 'chat:secret' }, 'subscribe "chat:secret"'],
      ['publish', { channel: 'chat:secret', data: 'x' }, 'publish "chat:secret"'],
      ['history', { channel: 'chat:team' }, 'history "chat:team"'],
      ['presence', { channel: 'chat:team' }, 'presence "chat:team"'],
      // Grants come first: a refusal does not say whether a namespace or run exists.
      ['subscribe', { channel: 'nowhere:x' }, 'subscribe "nowhere:x"'],
      ['subscribe', { channel: 'run:r-someone-elses' }, 'subscribe "run:r-someone-elses"'],
      ['history', { channel: 'run:r-someone-elses' }, 'history "run:r-someone-elses"'],
    ];
    for (const [op, fields, what] of refused) {
      expect(await alice.request(op, fields), `${op} ${JSON.stringify(fields)}`).toMatchObject({
        op: 'error',
        code: 'forbidden',
        message: `not allowed to ${what}`,
        details: { action: op, resource: fields.channel },
      });
    }
    await file.bystander.checkpoint();
    // What the grants cover still works on the same socket.
    await alice.call('subscribe', { channel: 'chat:team' });
    await alice.call('publish', { channel: 'chat:team', data: 'hi team' });
    expect(await alice.nextPush()).toMatchObject({ op: 'message', channel: 'chat:team', data: 'hi team' });
    // Nothing from the channel it was refused reaches it.
    await publish('chat:secret', 'secret');
    await publish('chat:team', 'after');
    expect(await alice.nextPush()).toMatchObject({ op: 'message', channel: 'chat:team', data: 'after' });
    // Leaving needs no grant.
    await alice.call('unsubscribe', { channel: 'chat:team' });
    await alice.call('ping');
  });

  it('sends join/leave only to subscribers with the presence grant', async () => {
    const carol = await rtAs('carol', chatAll);
    const alice = await rtAs('alice', { subscribe: ['chat:room1'], publish: ['chat:room1'] });
    await carol.call('subscribe', { channel: 'chat:room1' });
    await alice.call('subscribe', { channel: 'chat:room1' });
    expect(await carol.nextPush((p) => p.op === 'join')).toMatchObject({
      channel: 'chat:room1',
      user: 'alice',
    });
    const dave = await rtAs('dave', chatAll);
    await dave.call('subscribe', { channel: 'chat:room1' });
    expect(await carol.nextPush((p) => p.op === 'join')).toMatchObject({ user: 'dave' });
    dave.ws.terminate();
    expect(await carol.nextPush((p) => p.op === 'leave')).toMatchObject({ user: 'dave' });
    // The join and leave were published before this message: alice would have had them first.
    await publish('chat:room1', 'marker');
    expect(await alice.nextPush()).toMatchObject({ op: 'message', data: 'marker' });
    expect(alice.frames.filter((f) => f.op === 'join' || f.op === 'leave')).toEqual([]);
    await file.bystander.checkpoint();
  });

  it('replays missed publications only with the history grant: recovered false otherwise', async () => {
    const reader = await rtAs('reader', { subscribe: ['chat:room2'] });
    const historian = await rtAs('historian', { subscribe: ['chat:room2'], history: ['chat:room2'] });
    const first = await reader.call<{ epoch: string; offset: number }>('subscribe', {
      channel: 'chat:room2',
    });
    await reader.call('unsubscribe', { channel: 'chat:room2' });
    await publish('chat:room2', 'missed 1');
    await publish('chat:room2', 'missed 2');
    const since = { epoch: first.epoch, offset: first.offset };
    const noReplay = await reader.call('subscribe', { channel: 'chat:room2', since });
    expect(noReplay).toEqual({
      epoch: first.epoch,
      offset: first.offset + 2,
      recovered: false,
      publications: [],
    });
    const replay = await historian.call<{ recovered: boolean; publications: { data: unknown }[] }>(
      'subscribe',
      {
        channel: 'chat:room2',
        since,
      },
    );
    expect(replay.recovered).toBe(true);
    expect(replay.publications.map((p) => p.data)).toEqual(['missed 1', 'missed 2']);
    // Live delivery is the same for both from here on.
    await publish('chat:room2', 'live');
    expect(await reader.nextPush()).toMatchObject({ data: 'live' });
    expect(await historian.nextPush()).toMatchObject({ data: 'live' });
  });
});

describe('plain endpoints obey the channel grants', () => {
  it('refuses /chat/{room} without subscribe on the room (403), and drops messages without publish', async () => {
    const token = await mintToken({
      sub: 'alice',
      wirehub: { endpoints: ['chat'], subscribe: ['chat:open'] },
    });
    const refused = await TestClient.refused(`${file.srv.wsUrl}/chat/secret?access_token=${token}`);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: 'forbidden',
      message: 'not allowed to subscribe "chat:secret"',
    });
    const listener = await rtAs('carol', chatAll);
    await listener.call('subscribe', { channel: 'chat:open' });
    const readOnly = await TestClient.connect(`${file.srv.wsUrl}/chat/open?access_token=${token}`);
    closers.push(() => readOnly.ws.terminate());
    await readOnly.send('may I?');
    expect(await readOnly.nextJson()).toEqual({
      error: {
        code: 'forbidden',
        message: 'not allowed to publish "chat:open"',
        details: { action: 'publish', resource: 'chat:open' },
      },
    });
    // It still reads the room, and its refused message reached nobody.
    const talker = await plainAs('/chat/open', 'bob', { endpoints: ['chat'], ...chatAll });
    await talker.send('hello room');
    expect(await readOnly.next()).toBe('hello room');
    expect(await listener.nextPush((p) => p.op === 'message')).toMatchObject({ data: 'hello room' });
    await file.bystander.checkpoint();
  });

  it('guards /broadcast and /ws the same way', async () => {
    for (const [path, channel] of [
      ['/broadcast', 'broadcast'],
      ['/ws', 'ws'],
    ] as const) {
      const endpointOnly = await mintToken({ sub: 'alice', wirehub: { endpoints: ['broadcast', 'ws'] } });
      const r = await TestClient.refused(`${file.srv.wsUrl}${path}?access_token=${endpointOnly}`);
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.body).error.message).toBe(`not allowed to subscribe "${channel}"`);
      const reader = await plainAs(path, 'alice', { endpoints: ['broadcast', 'ws'], subscribe: [channel] });
      if (path === '/ws') expect(await reader.nextJson()).toMatchObject({ type: 'system' });
      await reader.send('hi');
      expect(await reader.nextJson()).toMatchObject({ error: { code: 'forbidden' } });
    }
    await file.bystander.checkpoint();
  });
});
