/** Defaults that clients and servers agree on; every one is configurable on the server. */
export const defaults = {
  /** Max inbound WebSocket message size in bytes (over it: close 1009). */
  maxPayloadBytes: 64 * 1024,
  /**
   * Most levels of objects and arrays in a JSON frame, body or task inputs (the outermost
   * counts as 1); deeper is refused with `json_too_deep`. Far below where serialising
   * overflows the stack (~4 000), far above what messages need.
   */
  maxJsonDepth: 64,
  /** Per-session cap on queued outbound bytes (over it: drop or close 4008). */
  maxQueuedBytes: 1024 * 1024,
  /** Server ping interval. */
  pingIntervalMs: 25_000,
  /** How long a client has to answer a ping with a pong. */
  pongTimeoutMs: 10_000,
  /** Window over which a draining node spreads its 1001 closes. */
  drainWindowMs: 5_000,
  /** `/stream` default sample interval and bounds. */
  streamIntervalMs: 1_000,
  streamIntervalMinMs: 50,
  streamIntervalMaxMs: 60_000,
  /** Channels one `/rt` connection may subscribe to at once. */
  maxChannelsPerConnection: 128,
  /** How long a presence entry lives without a refresh (a dead node's members expire). */
  presenceTtlMs: 60_000,
  /** Join/leave pushes wait this long; a leave and rejoin inside it announce nothing. */
  joinLeaveDebounceMs: 1_000,
} as const;

/** Chat room names: 1-64 characters of `[A-Za-z0-9_.-]`, and not only dots. */
export const ROOM_NAME = /^(?!\.+$)[A-Za-z0-9_.-]{1,64}$/;
