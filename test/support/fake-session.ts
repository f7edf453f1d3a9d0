import type { Frame } from '../../src/hub/frame.js';
import { anonymousPrincipal } from '../../src/hub/principal.js';
import type { Session } from '../../src/hub/session.js';

/**
 * A hub `Session` with no socket: it records the frames sent to it (or hands them to `send`).
 *
 * @example
 * ```ts
 * const { session, frames } = fakeSession('s1');
 * await hub.subscribe('chat:lobby', { session, encoder });
 * ```
 */
export function fakeSession(
  id: string,
  send?: (frame: Frame) => boolean,
): { session: Session; frames: Frame[] } {
  const frames: Frame[] = [];
  const session: Session = {
    id,
    endpoint: 'test',
    remoteAddress: '',
    connectedAt: new Date(),
    user: undefined,
    principal: anonymousPrincipal(),
    bufferedAmount: 0,
    isOpen: true,
    send: (frame) => {
      frames.push(frame);
      return send ? send(frame) : true;
    },
    close: () => {},
    reauthenticate: () => {},
  };
  return { session, frames };
}
