/** How the client waits between reconnect attempts. */
export interface ReconnectOptions {
  /** Delay before the first retry, in ms (500). */
  minDelayMs?: number;
  /** Longest delay, in ms (15 000). */
  maxDelayMs?: number;
  /** Each failed attempt multiplies the delay by this (2). */
  factor?: number;
  /**
   * Share of each delay that is random, 0-1 (0.5: a delay of d waits between d/2 and d), so
   * that clients dropped together by a restart do not all come back at the same instant.
   */
  jitter?: number;
  /** Retries in a row before giving up, when none of them connects (unlimited). */
  maxAttempts?: number;
}

export type Backoff = Required<ReconnectOptions>;

export function resolveBackoff(o: ReconnectOptions = {}): Backoff {
  const b: Backoff = {
    minDelayMs: o.minDelayMs ?? 500,
    maxDelayMs: o.maxDelayMs ?? 15_000,
    factor: o.factor ?? 2,
    jitter: o.jitter ?? 0.5,
    maxAttempts: o.maxAttempts ?? Number.POSITIVE_INFINITY,
  };
  if (!(b.minDelayMs >= 0 && b.maxDelayMs >= b.minDelayMs)) {
    throw new RangeError('reconnect: need 0 <= minDelayMs <= maxDelayMs');
  }
  if (!(b.factor >= 1)) throw new RangeError('reconnect: factor must be >= 1');
  if (!(b.jitter >= 0 && b.jitter <= 1)) throw new RangeError('reconnect: jitter must be within 0-1');
  if (!(b.maxAttempts >= 1)) throw new RangeError('reconnect: maxAttempts must be >= 1');
  return b;
}

/**
 * The delay before retry number `attempt` (1-based): exponential, capped, with jitter.
 *
 * @example
 * ```ts
 * backoffDelay(1, resolveBackoff()); // 250-500 ms
 * backoffDelay(4, resolveBackoff()); // 2000-4000 ms
 * ```
 */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(b.maxDelayMs, b.minDelayMs * b.factor ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (1 - b.jitter * random()));
}
