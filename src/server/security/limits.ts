/**
 * Connection and message limits. Each is configurable; 0 turns one off. Defaults suit one
 * node serving browsers directly; behind a proxy set `trustProxy`, or every client shares
 * the proxy's address and its per-IP limits.
 */
export interface LimitOptions {
  /** Open WebSocket connections on this node; over it upgrades get 503. Default 20 000. */
  maxConnections?: number;
  /** Open WebSocket connections from one client IP; over it upgrades get 429. Default 1000. */
  maxConnectionsPerIp?: number;
  /** Upgrade attempts per second from one client IP (sustained); over it 429. Default 50. */
  ipConnectionRate?: number;
  /** Upgrade attempts one client IP may burst. Default 200. */
  ipConnectionBurst?: number;
  /** Messages per second one connection may send (sustained). Default 200. */
  messageRate?: number;
  /** Messages one connection may burst. Default 1000. */
  messageBurst?: number;
  /**
   * Messages a connection may lose to its rate limit (each answered with a `rate_limited`
   * error) before it is closed with 4029; the allowance refills at one per second. Default 10.
   */
  messageStrikes?: number;
  /**
   * Runs one user (a JWT `sub`) may have in progress (queued or running) at once; over it a
   * new run is refused with `too_many_runs`. API keys and auth-off callers are not limited.
   * Counted by the run store, so with `--redis` it holds cluster-wide. Default 10.
   */
  maxRunsPerUser?: number;
}

export type ResolvedLimits = Required<LimitOptions>;

export const defaultLimits: ResolvedLimits = {
  maxConnections: 20_000,
  maxConnectionsPerIp: 1_000,
  ipConnectionRate: 50,
  ipConnectionBurst: 200,
  messageRate: 200,
  messageBurst: 1_000,
  messageStrikes: 10,
  maxRunsPerUser: 10,
};

export function resolveLimits(o: LimitOptions = {}): ResolvedLimits {
  const out = { ...defaultLimits };
  for (const key of Object.keys(defaultLimits) as (keyof LimitOptions)[]) {
    const value = o[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new Error(`limit ${key} must be a number >= 0`);
    out[key] = value;
  }
  return out;
}
