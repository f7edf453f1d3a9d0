import { ROOM_NAME, WirehubError } from '../protocol/index.js';
import { assertMayOpen, mayPublish } from './channel-grants.js';
import { plainTextEncoder } from './encoders.js';
import { defineEndpoint } from './endpoint.js';
import { originOf } from './origin.js';

/** The channel behind `/chat/{room}`. */
export function chatChannel(room: string): string {
  return `chat:${room}`;
}

/**
 * `/chat/{room}`: text goes to every other client in the same room (the sender is
 * excluded); rooms are isolated. Room names are 1-64 of `[A-Za-z0-9_.-]`, not only dots.
 * Joining needs the `subscribe` grant on `chat:{room}`, talking the `publish` grant.
 */
export const chatEndpoint = defineEndpoint({
  path: '/chat/:room',
  name: 'chat',
  accept(info) {
    const room = info.params.room ?? '';
    if (!ROOM_NAME.test(room)) {
      throw new WirehubError('bad_room', 'room names are 1-64 characters of [A-Za-z0-9_.-] (not only dots)');
    }
    const channel = chatChannel(room);
    assertMayOpen(info, channel);
    return channel;
  },
  async open(session, { hub }, channel) {
    await hub.subscribe(channel, { session, encoder: plainTextEncoder, excludeOwn: true });
    return {
      async message(text) {
        if (mayPublish(session, channel)) await hub.publish({ channel, data: text, from: originOf(session) });
      },
      close() {
        hub.unsubscribe(channel, session);
      },
    };
  },
});
