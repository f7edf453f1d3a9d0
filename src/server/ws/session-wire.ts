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
  send(frame: Frame): void;
  close(code: number, reason?: string): void;
  ping(): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
}
