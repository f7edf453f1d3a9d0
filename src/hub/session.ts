import type { FanoutMember } from './fanout.js';
import type { Frame } from './frame.js';
import type { Principal } from './principal.js';

/**
 * What to do when a session's queued output is over its cap: `drop` the frame (live data
 * such as samples, where the next one supersedes it) or `disconnect` the client with 4008
 * (streams with history, where the client recovers after reconnecting).
 */
export type OverflowPolicy = 'drop' | 'disconnect';

/**
 * One client connection as the hub sees it: no transport types, so the hub works the same
 * over ws today and another transport tomorrow.
 */
export interface Session {
  readonly id: string;
  /** Name of the endpoint the client connected to, e.g. `chat`. */
  readonly endpoint: string;
  readonly remoteAddress: string;
  readonly connectedAt: Date;
  /** Authenticated user id, when there is one. */
  readonly user: string | undefined;
  /** Who the client is and what it may do (anonymous with full grants when auth is off). */
  readonly principal: Principal;
  /** Bytes queued for this client and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  /**
   * Queues a frame. Returns false when the frame was not queued (session closed, or over
   * the output cap: then `overflow` decides between dropping it and closing with 4008).
   */
  send(frame: Frame, overflow?: OverflowPolicy): boolean;
  close(code: number, reason?: string): void;
  /**
   * Present when the session's transport can write one frame to many connections at once
   * (Bun's native server): the hub then fans publications out through a group instead of one
   * `send` per subscriber. Undefined on Node's transport and before the handshake completes.
   */
  readonly fanout?: FanoutMember | undefined;
  /**
   * Replaces the session's credentials with fresh ones for the same user (`/rt` `refresh`):
   * the expiry close (4001) moves to the new `expiresAt`. Throws `forbidden` when the new
   * principal is another user.
   */
  reauthenticate(principal: Principal): void;
}
