import { Frame } from '../hub/frame.js';
import type { Hub } from '../hub/hub.js';
import type { Session } from '../hub/session.js';
import { assertMayOpen, mayPublish } from './channel-grants.js';
import { jsonDataEncoder } from './encoders.js';
import { defineEndpoint } from './endpoint.js';
import { originOf } from './origin.js';

/** The channel `/ws` clients share. Its presence set is the connection count. */
export const WS_CHANNEL = 'ws';

async function broadcast(hub: Hub, session: Session, message: Record<string, unknown>): Promise<void> {
  const connections = await hub.engine.presenceCount(WS_CHANNEL);
  await hub.publish({ channel: WS_CHANNEL, data: { ...message, connections }, from: originOf(session) });
}

/**
 * `/ws`, the seed's basic app: a welcome on connect; for each text message an echo to the
 * sender, then a broadcast with the connection count to every `/ws` client (sender
 * included); when a client leaves, the others hear about it with the new count. Connecting
 * needs the `subscribe` grant on channel `ws`, sending messages the `publish` grant.
 */
export const basicWsEndpoint = defineEndpoint({
  path: '/ws',
  name: 'ws',
  accept: (info) => assertMayOpen(info, WS_CHANNEL),
  async open(session, { hub }) {
    session.send(
      Frame.json({
        type: 'system',
        message: 'Welcome! You are connected.',
        timestamp: new Date().toISOString(),
      }),
    );
    await hub.engine.presenceAdd(WS_CHANNEL, {
      client: session.id,
      connectedAt: session.connectedAt.getTime(),
      ...(session.user === undefined ? {} : { user: session.user }),
    });
    await hub.subscribe(WS_CHANNEL, { session, encoder: jsonDataEncoder });
    // Messages from one client are handled one after another, as in the seed's loop: its
    // echo and broadcast for message n both go out before those for message n+1.
    let queue: Promise<void> = Promise.resolve();
    return {
      message(text) {
        if (!mayPublish(session, WS_CHANNEL)) return;
        const next = queue.then(() => {
          const timestamp = new Date().toISOString();
          session.send(Frame.json({ type: 'echo', message: `Echo: ${text}`, timestamp }));
          return broadcast(hub, session, { type: 'broadcast', message: `Broadcast: ${text}`, timestamp });
        });
        // The caller reports a failure; the chain goes on with the next message.
        queue = next.catch(() => {});
        return next;
      },
      async close() {
        hub.unsubscribe(WS_CHANNEL, session);
        await hub.engine.presenceRemove(WS_CHANNEL, session.id);
        await broadcast(hub, session, { type: 'system', message: 'A client disconnected' });
      },
    };
  },
});
