import { Frame } from '../hub/frame.js';
import { forbidden } from '../hub/permissions.js';
import type { Session } from '../hub/session.js';
import type { UpgradeInfo } from './endpoint.js';

/**
 * The plain endpoints `/chat/{room}`, `/broadcast` and `/ws` are views on channels, so they
 * obey the same channel grants as `/rt`: opening one needs `subscribe` on its channel (else
 * the upgrade is refused with 403), and each message sent needs `publish` on it.
 */
export function assertMayOpen(info: UpgradeInfo, channel: string): void {
  info.principal.permissions.assert('subscribe', channel);
}

/**
 * True when the session may publish to `channel`; otherwise it gets an
 * `{"error":{"code":"forbidden",…}}` frame, its message goes nowhere, and the socket stays open.
 */
export function mayPublish(session: Session, channel: string): boolean {
  if (session.principal.permissions.can('publish', channel)) return true;
  session.send(Frame.json({ error: forbidden('publish', channel).toJSON() }));
  return false;
}
