/**
 * WebSocket close codes wirehub sends, in one place.
 *
 * @example
 * ```ts
 * import { CloseCode } from 'wirehub/protocol';
 * ws.onclose = (e) => { if (e.code === CloseCode.SlowConsumer) resubscribeFromHistory(); };
 * ```
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never sent in a close frame: what a side reports when the connection dropped without one. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  Restart: 1012,
  TryAgainLater: 1013,
  Unauthorized: 4001,
  Forbidden: 4003,
  SlowConsumer: 4008,
  RateLimited: 4029,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

/** What each close code means, for docs and for clients deciding whether to reconnect. */
export const closeCodeInfo: Record<CloseCodeValue, { meaning: string; reconnect: boolean }> = {
  1000: { meaning: 'normal closure', reconnect: false },
  1001: { meaning: 'going away: the server is draining or restarting', reconnect: true },
  1002: { meaning: 'protocol error: a frame that breaks the WebSocket protocol', reconnect: true },
  1003: { meaning: 'unsupported data: a binary frame on a text-only endpoint', reconnect: false },
  1006: {
    meaning: 'abnormal closure: the connection dropped without a close frame (never sent; reported locally)',
    reconnect: true,
  },
  1007: { meaning: 'invalid payload: a text frame that is not valid UTF-8', reconnect: false },
  1008: { meaning: 'policy violation', reconnect: false },
  1009: { meaning: 'message too big: over the max payload', reconnect: false },
  1011: { meaning: 'internal server error', reconnect: true },
  1012: {
    meaning:
      'service restart, or publications lost to this node (a cluster node could not fill a gap from history): reconnect and resubscribe with `since`',
    reconnect: true,
  },
  1013: { meaning: 'try again later: the node is full', reconnect: true },
  4001: { meaning: 'unauthorized: missing, invalid or expired token', reconnect: false },
  4003: { meaning: 'forbidden', reconnect: false },
  4008: { meaning: 'slow consumer: the client did not read fast enough', reconnect: true },
  4029: { meaning: 'rate limited: too many messages', reconnect: true },
};
