// The plan sits in its own module, below connect.ts and the modules it starts (connect-plain,
// connect-rt, connect-session): they import it from here, so no import goes back up to connect.ts.

/** What `wirehub connect` was asked to do, resolved from its arguments and flags. */
export interface ConnectPlan {
  /** The `ws(s)://` URL to open. */
  target: string;
  token: string | undefined;
  /** Text frames (or, on `/rt`, publications) to send once connected, before stdin. */
  send: string[];
  /** Exit 0 after this many messages were received. */
  count: number | undefined;
  /** Exit 1 when `count` messages have not come (or, without `count`, when the connection is still open) after this long. */
  timeoutMs: number | undefined;
  subscribe: string[];
  since: { epoch: string; offset: number } | undefined;
  publish: string | undefined;
}
