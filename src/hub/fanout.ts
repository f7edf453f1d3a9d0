import type { Frame } from './frame.js';
import type { OverflowPolicy } from './session.js';

/**
 * A transport that writes one frame to many of its connections in one call: Bun's native
 * server does it with a topic (`ws.subscribe`, `server.publish`), which writes each socket once
 * per event-loop iteration instead of once per frame. The hub uses it for the subscribers of a
 * channel that get the same frame under the same rules; everything else goes through
 * `Session.send` as on every transport.
 */
export interface FanoutTransport {
  /** Writes `frame` to every connection that joined `group` (and has not left it). */
  publish(group: string, frame: Frame): void;
}

/**
 * What a session on a `FanoutTransport` offers the hub (`Session.fanout`). The hub keeps the
 * group membership right: a session is in a group only while it takes the delivery in progress
 * (not excluded as the sender, accepted by its subscriber's filter, under its output cap), so a
 * group publish never reaches a connection a per-subscriber rule kept out.
 */
export interface FanoutMember {
  readonly fanoutTransport: FanoutTransport;
  /** Joins this connection to `group`; false when it cannot (closed, or already in it). */
  joinGroup(group: string): boolean;
  /** Leaves `group`; a no-op when not in it or closed. */
  leaveGroup(group: string): void;
  /**
   * `Session.send` without the write: the session's rules (open, output cap and overflow
   * policy) and its accounting, for a frame the transport writes through a group publish.
   * True when the frame is to reach this connection.
   */
  admit(frame: Frame, overflow: OverflowPolicy): boolean;
}
