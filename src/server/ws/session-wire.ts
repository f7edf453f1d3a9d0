import type { FanoutTransport } from '../../hub/fanout.js';
import type { Frame } from '../../hub/frame.js';

/**
 * How a transport with its own connections (Bun's native `ServerWebSocket`: `BunWire`,
 * src/server/bun/) writes a frame, tells a connection's queue, pings, closes. One per server,
 * shared by every session (`WsEndpointShared.wire`): each method takes the session's
 * connection, so an idle connection carries no wire object of its own (64 bytes each on Bun).
 * Over `ws` on Node the session drives its `SessionWebSocket` directly. The session keeps every
 * rule (output cap, overflow policy, rate limit, expiry) on top, the same for both.
 */
export interface SessionWire<C = unknown> {
  /** The connection is open (not closing, not closed). */
  open(conn: C): boolean;
  /** Bytes written to the connection and not yet taken by the kernel. */
  bufferedAmount(conn: C): number;
  /**
   * Reading `bufferedAmount` costs a native call per socket (Bun): the session may then bound
   * the queue by what it wrote since its last read instead of reading it for every frame (see
   * `WsSession.mayWrite`). Absent on `ws`, whose queue length is a plain property.
   */
  readonly boundsQueue?: boolean;
  send(conn: C, frame: Frame): void;
  close(conn: C, code: number, reason?: string): void;
  ping(conn: C): void;
  /** Drops the connection without a closing handshake. */
  terminate(conn: C): void;
  /**
   * The transport's fan-out groups, when it has them (Bun's topics); `subscribe` and
   * `unsubscribe` then put a connection in a group and take it out.
   */
  readonly fanout?: FanoutTransport | undefined;
  /** Joins a group; false when closed or already in it. */
  subscribe?(conn: C, group: string): boolean;
  unsubscribe?(conn: C, group: string): void;
}
