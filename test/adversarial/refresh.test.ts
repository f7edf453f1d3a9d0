import { describe, expect, it } from 'vitest';
import type { Grants } from '../../src/hub/permissions.js';
import { RtClient } from '../support/rt-client.js';
import {
  API_KEY,
  CHAT_WITHOUT_DEBOUNCE,
  guardedServerPerFile,
  mintToken,
  publishAsServer,
} from '../support/security.js';
import { startServer } from '../support/server.js';

const file = guardedServerPerFile({ namespaces: [CHAT_WITHOUT_DEBOUNCE], tasks: false });
const { closers } = file;

const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

function token(sub: string, grants: Grants, exp = inSeconds(3600), secret?: string): Promise<string> {
  return mintToken(
    { sub, wirehub: { endpoints: ['rt'], ...grants } },
    { exp, ...(secret ? { secret } : {}) },
  );
}

async function rt(jwt: string): Promise<RtClient> {
  const c = await RtClient.connect(`${file.srv.wsUrl}/rt?access_token=${jwt}`);
  closers.push(() => c.ws.terminate());
  return c;
}

const publish = (channel: string, data: unknown) => publishAsServer(file.srv.url, channel, data);

describe('refresh {token} on /rt', () => {
  it('keeps a connection open past its first token, under the new grants', async () => {
    const chat: Grants = { subscribe: ['chat:*'], publish: ['chat:*'] };
    const short = await token('alice', chat, inSeconds(3));
    const refreshed = await rt(short);
    const control = await rt(short);
    for (const channel of ['chat:a', 'chat:b']) await refreshed.call('subscribe', { channel });

    const exp = inSeconds(3600);
    const narrower = await token('alice', { subscribe: ['chat:a'], presence: ['chat:a'] }, exp);
    expect(await refreshed.call('refresh', { token: narrower })).toEqual({
      expiresAt: exp * 1000,
      unsubscribed: ['chat:b'],
    });
    // The twin that did not refresh is closed when the first token expires; this one goes on.
    expect(await control.closed).toEqual({ code: 4001, reason: 'token expired' });
    await refreshed.call('ping');
    await file.bystander.checkpoint();

    // The new grants hold: chat:b is gone, publishing is no longer allowed, join/leave now is.
    await publish('chat:b', 'not for you any more');
    await publish('chat:a', 'still yours');
    expect(await refreshed.nextPush()).toMatchObject({
      op: 'message',
      channel: 'chat:a',
      data: 'still yours',
    });
    expect(await refreshed.request('publish', { channel: 'chat:a', data: 'x' })).toMatchObject({
      code: 'forbidden',
    });
    const bob = await rt(await token('bob', chat));
    await bob.call('subscribe', { channel: 'chat:a' });
    expect(await refreshed.nextPush()).toMatchObject({ op: 'join', channel: 'chat:a', user: 'bob' });
  });

  it('answers a bad, expired or other-user token with unauthorized and changes nothing', async () => {
    const grants: Grants = { subscribe: ['chat:*'] };
    const alice = await rt(await token('alice', grants));
    await alice.call('subscribe', { channel: 'chat:c' });
    const cases: [string, string][] = [
      [await token('bob', grants), 'other_user'],
      [API_KEY, 'other_user'],
      [await token('alice', grants, inSeconds(-60)), 'expired'],
      [
        await token('alice', grants, inSeconds(3600), 'some-other-secret-that-is-long-enough'),
        'bad_signature',
      ],
      ['garbage', 'malformed'],
    ];
    for (const [bad, reason] of cases) {
      expect(await alice.request('refresh', { token: bad }), reason).toMatchObject({
        op: 'error',
        code: 'unauthorized',
        details: { reason },
      });
    }
    // Still alice, still subscribed, still open.
    await publish('chat:c', 'hello');
    expect(await alice.nextPush()).toMatchObject({ channel: 'chat:c', data: 'hello' });
    await alice.call('ping');
    await file.bystander.checkpoint();
  });

  it('moves the deadline to the new token, earlier too', async () => {
    const alice = await rt(await token('alice', {}));
    const soon = inSeconds(2);
    expect(await alice.call('refresh', { token: await token('alice', {}, soon) })).toEqual({
      expiresAt: soon * 1000,
      unsubscribed: [],
    });
    expect(await alice.closed).toEqual({ code: 4001, reason: 'token expired' });
  });

  it('with auth off, ignores the token as the upgrade does: nothing expires', async () => {
    const open = await startServer({ tasks: false });
    try {
      const c = await RtClient.connect(`${open.wsUrl}/rt`);
      expect(await c.call('refresh', { token: 'anything' })).toEqual({ unsubscribed: [] });
      await c.close();
    } finally {
      await open.close();
    }
  });
});
