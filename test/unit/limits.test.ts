import { describe, expect, it } from 'vitest';
import { MemoryLimitStore } from '../../src/engine/memory/memory-limit-store.js';
import { resolveLimits } from '../../src/server/security/limits.js';
import { MessageLimiter } from '../../src/server/security/message-limiter.js';
import { TokenBucket } from '../../src/util/token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.waitMs(0)).toBe(100);
    expect(b.take(99)).toBe(false);
    expect(b.take(100)).toBe(true);
    // Refill is capped at the capacity.
    expect(b.isFull(60_000)).toBe(true);
    expect([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });
});

describe('MemoryLimitStore', () => {
  it('counts holders up to a max and forgets keys at zero', () => {
    const s = new MemoryLimitStore();
    expect(s.acquire('k', 2)).toBe(true);
    expect(s.acquire('k', 2)).toBe(true);
    expect(s.acquire('k', 2)).toBe(false);
    expect(s.held('k')).toBe(2);
    s.release('k');
    expect(s.acquire('k', 2)).toBe(true);
    s.release('k');
    s.release('k');
    expect(s.size).toBe(0);
    s.release('k'); // an extra release never goes negative
    expect(s.held('k')).toBe(0);
  });

  it('rate-limits per key and sweeps full buckets, so distinct keys leave nothing behind', () => {
    const s = new MemoryLimitStore();
    const rule = { ratePerSec: 1, burst: 2 };
    expect(s.take('a', rule).allowed).toBe(true);
    expect(s.take('a', rule).allowed).toBe(true);
    const refused = s.take('a', rule);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    for (let i = 0; i < 1000; i += 1) s.take(`ip:${i}`, rule);
    expect(s.size).toBe(1001);
    s.sweep(Date.now() + 10_000);
    expect(s.size).toBe(0);
  });
});

describe('MessageLimiter', () => {
  it('accepts the burst, rejects over it, and closes once the strikes run out', () => {
    const m = new MessageLimiter(10, 5, 3, 0);
    const verdicts = Array.from({ length: 10 }, () => m.take(0));
    expect(verdicts).toEqual([
      'accept',
      'accept',
      'accept',
      'accept',
      'accept',
      'reject',
      'reject',
      'reject',
      'close',
      'close',
    ]);
  });

  it('recovers when the client slows down', () => {
    const m = new MessageLimiter(10, 1, 2, 0);
    expect(m.take(0)).toBe('accept');
    expect(m.take(0)).toBe('reject');
    expect(m.retryAfterMs(0)).toBe(100);
    expect(m.take(100)).toBe('accept');
    // Two strikes, one used: the next loss is the last allowed, then the connection goes.
    expect(m.take(100)).toBe('reject');
    expect(m.take(100)).toBe('close');
    // Strikes refill at one per second.
    expect(m.take(2_100)).toBe('accept');
    expect(m.take(2_100)).toBe('reject');
  });
});

describe('resolveLimits', () => {
  it('fills defaults and refuses nonsense', () => {
    expect(resolveLimits({ messageRate: 0 }).messageRate).toBe(0);
    expect(resolveLimits().maxConnections).toBe(20_000);
    expect(() => resolveLimits({ maxConnections: -1 })).toThrow(/maxConnections/);
    expect(() => resolveLimits({ messageRate: Number.NaN })).toThrow(/messageRate/);
  });
});
