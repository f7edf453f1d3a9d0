import { TokenBucket } from '../../util/token-bucket.js';
import type { LimitStore, RateDecision, RateRule } from '../limits.js';

/** Buckets are swept at most this often; a full bucket is forgotten (it changes nothing). */
const SWEEP_EVERY_MS = 10_000;

/**
 * Limit state in this process. Memory stays bounded by the keys in use: counters are dropped
 * at zero and full buckets are swept away, so a flood of distinct IPs leaves nothing behind.
 */
export class MemoryLimitStore implements LimitStore {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly counters = new Map<string, number>();
  private lastSweep = Date.now();

  take(key: string, rule: RateRule): RateDecision {
    const now = Date.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.ratePerSec !== rule.ratePerSec || bucket.capacity !== rule.burst) {
      bucket = new TokenBucket(rule.ratePerSec, rule.burst, now);
      this.buckets.set(key, bucket);
    }
    if (bucket.take(now)) return { allowed: true, retryAfterMs: 0 };
    return { allowed: false, retryAfterMs: bucket.waitMs(now) };
  }

  acquire(key: string, max: number): boolean {
    const held = this.counters.get(key) ?? 0;
    if (held >= max) return false;
    this.counters.set(key, held + 1);
    return true;
  }

  release(key: string): void {
    const held = this.counters.get(key) ?? 0;
    if (held <= 1) this.counters.delete(key);
    else this.counters.set(key, held - 1);
  }

  held(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  /** Keys currently tracked (buckets and counters), to check memory stays bounded. */
  get size(): number {
    return this.buckets.size + this.counters.size;
  }

  sweep(now = Date.now()): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }
}
