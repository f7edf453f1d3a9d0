import { assertMayOpen, mayPublish } from './channel-grants.js';
import { plainTextEncoder } from './encoders.js';
import { defineEndpoint } from './endpoint.js';
import { originOf } from './origin.js';

/** The channel `/broadcast` clients share; `/rt` clients see it under the same name. */
export const BROADCAST_CHANNEL = 'broadcast';

/**
 * `/broadcast`: every text message goes to every `/broadcast` client, the sender included.
 * Connecting needs the `subscribe` grant on `broadcast`, sending the `publish` grant.
 */
export const broadcastEndpoint = defineEndpoint({
  path: '/broadcast',
  name: 'broadcast',
  accept: (info) => assertMayOpen(info, BROADCAST_CHANNEL),
  async open(session, { hub }) {
    await hub.subscribe(BROADCAST_CHANNEL, { session, encoder: plainTextEncoder });
    return {
      async message(text) {
        if (mayPublish(session, BROADCAST_CHANNEL))
          await hub.publish({ channel: BROADCAST_CHANNEL, data: text, from: originOf(session) });
      },
      close() {
        hub.unsubscribe(BROADCAST_CHANNEL, session);
      },
    };
  },
});
