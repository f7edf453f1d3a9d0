/** A token-bucket rule: sustained `ratePerSec`, bursts of up to `burst`. */
export interface RateRule {
  ratePerSec: number;
  burst: number;
}

/** The answer of `LimitStore.take`. */
export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until a retry would be allowed (ms). */
  retryAfterMs: number;
}

/**
 * Where the upgrade gate keeps limit state: rate buckets and concurrency counters, by string
 * key (`ip:1.2.3.4`, …). The embedded implementation keeps them in this process, which is
 * what per-connection and per-IP limits want (no round trip on an upgrade, nothing to lose
 * when Redis is away); every method may be async so a shared store can be plugged in. The
 * per-user run limit is not kept here: the run store counts runs itself (`RunQuota`).
 *
 * @example
 * ```ts
 * const store: LimitStore = new MemoryLimitStore();
 * const d = await store.take('conn-rate:ip:10.0.0.7', { ratePerSec: 20, burst: 40 });
 * if (d.allowed && (await store.acquire('conns:ip:10.0.0.7', 100))) {
 *   // … later, when the connection ends:
 *   await store.release('conns:ip:10.0.0.7');
 * }
 * ```
 */
export interface LimitStore {
  /** Takes one token from the bucket `key` under `rule`. */
  take(key: string, rule: RateRule): RateDecision | Promise<RateDecision>;
  /** Counts one more holder of `key` if fewer than `max` hold it; returns whether it did. */
  acquire(key: string, max: number): boolean | Promise<boolean>;
  /** Gives back what `acquire` counted. */
  release(key: string): void | Promise<void>;
  /** Current holders of `key` (for tests and metrics). */
  held(key: string): number | Promise<number>;
  close?(): void | Promise<void>;
}
