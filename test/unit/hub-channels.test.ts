import { describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Publication } from '../../src/engine/types.js';
import { Frame } from '../../src/hub/frame.js';
import { type Encoder, Hub } from '../../src/hub/hub.js';
import { anonymousPrincipal } from '../../src/hub/principal.js';
import type { Session } from '../../src/hub/session.js';

function fakeSession(id: string) {
  const frames: Frame[] = [];
  const session: Session = {
    id,
    endpoint: 'test',
    remoteAddress: '',
    connectedAt: new Date(1_000),
    user: id === 'c-alice' ? 'alice' : undefined,
    principal: anonymousPrincipal(),
    bufferedAmount: 0,
    isOpen: true,
    send: (f) => {
      frames.push(f);
      return true;
    },
    close: () => {},
    reauthenticate: () => {},
  };
  return { session, frames };
}

const text: Encoder = { name: 'text', encode: (pub) => Frame.text(String(pub.data)) };

async function started(): Promise<Hub> {
  const hub = new Hub(new MemoryEngine(), {
    namespaces: [{ pattern: 'lazy:*', presence: true, joinLeave: false }],
  });
  await hub.start();
  return hub;
}

describe('Hub channels', () => {
  it('keeps history where the namespace says so, and refuses unknown namespaces', async () => {
    const hub = await started();
    expect(await hub.publish({ channel: 'chat:a', data: 1 })).toMatchObject({
      offset: 1,
      epoch: expect.any(String),
    });
    expect((await hub.publish({ channel: 'broadcast', data: 1 })).offset).toBeUndefined();
    await expect(hub.publish({ channel: 'nope:a', data: 1 })).rejects.toMatchObject({
      code: 'unknown_namespace',
    });
    await expect(hub.publish({ channel: 'bad name', data: 1 })).rejects.toMatchObject({
      code: 'bad_channel',
    });
    expect((await hub.history('chat:a')).publications.map((p) => p.data)).toEqual([1]);
    await expect(hub.history('broadcast')).rejects.toMatchObject({ code: 'not_enabled' });
    expect(await hub.position('broadcast')).toBeUndefined();
    await hub.close();
  });

  it('asks each subscriber’s accept() before encoding', async () => {
    const hub = await started();
    const { session, frames } = fakeSession('c-1');
    const seen: Publication[] = [];
    await hub.subscribe('chat:a', {
      session,
      encoder: text,
      accept: (pub) => {
        seen.push(pub);
        return pub.data !== 'skip';
      },
    });
    for (const data of ['one', 'skip', 'two']) await hub.publish({ channel: 'chat:a', data });
    await Promise.resolve();
    expect(seen.map((p) => p.data)).toEqual(['one', 'skip', 'two']);
    expect(frames.map((f) => f.payload.toString())).toEqual(['one', 'two']);
    await hub.close();
  });

  it('makes subscribers presence members on namespaces with presence', async () => {
    const hub = await started();
    const alice = fakeSession('c-alice');
    const bob = fakeSession('c-bob');
    await hub.subscribe('lazy:x', { session: alice.session, encoder: text });
    await hub.subscribe('lazy:x', { session: bob.session, encoder: text });
    await hub.subscribe('broadcast', { session: bob.session, encoder: text });
    expect(await hub.presence('lazy:x')).toEqual([
      { client: 'c-alice', user: 'alice', connectedAt: 1_000 },
      { client: 'c-bob', connectedAt: 1_000 },
    ]);
    hub.unsubscribe('lazy:x', alice.session);
    await Promise.resolve();
    expect((await hub.presence('lazy:x')).map((m) => m.client)).toEqual(['c-bob']);
    await expect(hub.presence('broadcast')).rejects.toMatchObject({ code: 'not_enabled' });
    await hub.close();
  });

  it('leaves no member behind when unsubscribed before the subscription was ready', async () => {
    const hub = await started();
    const { session } = fakeSession('c-1');
    const subscribing = hub.subscribe('lazy:y', { session, encoder: text });
    hub.unsubscribe('lazy:y', session);
    await subscribing;
    expect(await hub.presence('lazy:y')).toEqual([]);
    await hub.close();
  });
});
