import { Frame } from '../hub/frame.js';
import type { Hub } from '../hub/hub.js';
import type { Session } from '../hub/session.js';
import { Serial } from '../util/serial.js';
import { assertMayOpen, mayPublish } from './channel-grants.js';
import { jsonDataEncoder } from './encoders.js';
import { defineEndpoint } from './endpoint.js';
import { originOf } from './origin.js';

/** The channel `/ws` clients share. Its presence set is the connection count (every node's). */
export const WS_CHANNEL = 'ws';

/**
 * The `/ws` connection count: every node's clients (presence of channel `ws`). While a
 * networked engine cannot reach its broker, this node's own clients.
 */
async function connectionCount(hub: Hub): Promise<number> {
  try {
    return await hub.engine.presenceCount(WS_CHANNEL);
  } catch {
    return hub.localSubscribers(WS_CHANNEL);
  }
}

async function broadcast(hub: Hub, session: Session, message: Record<string, unknown>): Promise<void> {
  const connections = await connectionCount(hub);
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
    // Subscribing makes the session a presence member of `ws` (with a TTL its node refreshes,
    // so the clients of a node that died stop being counted).
    await hub.subscribe(WS_CHANNEL, { session, encoder: jsonDataEncoder });
    // Messages from one client are handled one after another, as in the seed's loop: its
    // echo and broadcast for message n both go out before those for message n+1.
    const queue = new Serial();
    return {
      message(text) {
        if (!mayPublish(session, WS_CHANNEL)) return;
        // The caller reports a failure; the chain goes on with the next message.
        return queue.run(() => {
          const timestamp = new Date().toISOString();
          session.send(Frame.json({ type: 'echo', message: `Echo: ${text}`, timestamp }));
          return broadcast(hub, session, { type: 'broadcast', message: `Broadcast: ${text}`, timestamp });
        });
      },
      async close() {
        await hub.unsubscribe(WS_CHANNEL, session);
        await broadcast(hub, session, { type: 'system', message: 'A client disconnected' });
      },
    };
  },
});
