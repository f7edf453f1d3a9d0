import type { Origin } from '../engine/types.js';
import type { Session } from '../hub/session.js';

/** The `from` a session's publications carry. */
export function originOf(session: Session): Origin {
  return session.user === undefined ? { client: session.id } : { client: session.id, user: session.user };
}
