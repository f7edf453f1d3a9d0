import { defineEndpoint, type Encoder, Frame } from '../../src/index.js';

/**
 * Encodes publications as the `/rt` contract's `message` push. One shared encoder, so fan-out
 * encodes each publication once for all of this endpoint's subscribers.
 */
const rtMessage: Encoder = {
  name: 'rt-contract-message',
  encode: (pub) => Frame.json({ op: 'message', channel: pub.channel, data: pub.data, from: pub.from }),
};

/**
 * The subset of the `/rt` wire contract (DESIGN.md) that `wirehub bench fanout --channel`
 * speaks: `subscribe` and `publish` commands answered by `reply`/`error` with their id, and
 * `message` pushes. It stands in for the real `/rt` endpoint (built on another branch) so
 * the load generator's `/rt` client is tested against the contract.
 */
export const rtContractEndpoint = defineEndpoint({
  path: '/rt-contract',
  name: 'rt-contract',
  open(session, { hub }) {
    const channels = new Set<string>();
    const reply = (id: unknown, result: unknown) => session.send(Frame.json({ op: 'reply', id, result }));
    return {
      async message(text) {
        const msg = JSON.parse(String(text)) as {
          op?: string;
          id?: number;
          channel?: string;
          data?: unknown;
        };
        if (typeof msg.channel !== 'string' || msg.channel === 'forbidden') {
          session.send(
            Frame.json({ op: 'error', id: msg.id, code: 'forbidden', message: 'not this channel' }),
          );
          return;
        }
        if (msg.op === 'subscribe') {
          channels.add(msg.channel);
          await hub.subscribe(msg.channel, { session, encoder: rtMessage });
          reply(msg.id, { epoch: '', offset: 0, recovered: false, publications: [] });
        } else if (msg.op === 'publish') {
          await hub.publish({ channel: msg.channel, data: msg.data, from: { client: session.id } });
          reply(msg.id, {});
        } else {
          session.send(Frame.json({ op: 'error', id: msg.id, code: 'unknown_op', message: 'unknown op' }));
        }
      },
      close() {
        for (const channel of channels) hub.unsubscribe(channel, session);
      },
    };
  },
});
