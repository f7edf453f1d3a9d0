import type { FanoutTransport } from '../../hub/fanout.js';
import type { Frame } from '../../hub/frame.js';

/**
 * The connection under a `WsSession`, as the session uses it: how a transport writes a frame,
 * tells its queue, pings, closes. Bun's native `ServerWebSocket` (`BunWire`, src/server/bun/)
 * implements it; over `ws` on Node the session drives its WebSocket itself (a wire object per
 * connection cost idle memory). The session keeps every rule (output cap, overflow policy,
 * rate limit, expiry) on top, the same for both.
 */
export interface SessionWire {
  /** The WebSocket is open and its connection can take a frame. */
  readonly writable: boolean;
  /** The WebSocket is open (not closing, not closed). */
  readonly open: boolean;
  /** Bytes written and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /**
   * Reading `bufferedAmount` costs a native call per socket (Bun): the session may then bound
   * the queue by what it wrote since its last read instead of reading it for every frame (see
   * `WsSession.mayWrite`). Absent on `ws`, whose queue length is a plain property.
   */
  readonly boundsQueue?: boolean;
  send(frame: Frame): void;
  close(code: number, reason?: string): void;
  ping(): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  /**
   * The transport's fan-out groups, when it has them (Bun's topics); `subscribe` and
   * `unsubscribe` then put this connection in a group and take it out. None on `ws`.
   */
  readonly fanout?: FanoutTransport | undefined;
  /** Joins a group; false when closed or already in it. */
  subscribe?(group: string): boolean;
  unsubscribe?(group: string): void;
}
