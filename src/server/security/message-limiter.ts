import { TokenBucket } from '../../util/token-bucket.js';

/** What to do with an inbound message. */
export type MessageVerdict = 'accept' | 'reject' | 'close';

/**
 * A connection's inbound message rate: a token bucket for messages, and a second, small one
 * for strikes. A message over the rate is rejected (the client is told, so nothing is lost
 * silently); a client that goes on losing messages runs out of strikes and is closed (4029).
 * Per connection and synchronous, so it costs a subtraction on the hot path.
 */
export class MessageLimiter {
  private readonly messages: TokenBucket;
  private readonly strikes: TokenBucket;

  constructor(ratePerSec: number, burst: number, strikes: number, now = Date.now()) {
    this.messages = new TokenBucket(ratePerSec, Math.max(1, burst), now);
    this.strikes = new TokenBucket(1, Math.max(1, strikes), now);
  }

  take(now = Date.now()): MessageVerdict {
    if (this.messages.take(now)) return 'accept';
    return this.strikes.take(now) ? 'reject' : 'close';
  }

  /** How long until the next message would be accepted (ms). */
  retryAfterMs(now = Date.now()): number {
    return this.messages.waitMs(now);
  }
}
