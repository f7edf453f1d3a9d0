import { describe, expect, it } from 'vitest';
import { type FeedOrder, HeldFeed } from '../../src/hub/held-feed.js';

const bySeq: FeedOrder<number, number> = { position: (n) => n, after: (a, b) => a > b };
const byEpoch: FeedOrder<{ epoch?: string; offset?: number }, { epoch: string; offset: number }> = {
  position: (p) =>
    p.epoch === undefined || p.offset === undefined ? undefined : { epoch: p.epoch, offset: p.offset },
  after: (p, last) => p.epoch !== last.epoch || p.offset > last.offset,
};

describe('HeldFeed: the one hold/replay/dedupe subscriber', () => {
  it('holds live items until release, then passes the new ones in arrival order', () => {
    const feed = new HeldFeed(bySeq);
    expect(feed.offer(2)).toBe(false);
    expect(feed.offer(3)).toBe(false);
    expect(feed.holding).toBe(true);
    // The replay delivered 1 and 2 already.
    expect(feed.pass(1)).toBe(true);
    expect(feed.pass(2)).toBe(true);
    expect(feed.release()).toEqual([3]);
    expect(feed.holding).toBe(false);
    expect(feed.offer(3)).toBe(false);
    expect(feed.offer(4)).toBe(true);
  });

  it('seen() skips what the client has; an older position changes nothing', () => {
    const feed = new HeldFeed(bySeq);
    feed.seen(5);
    feed.seen(2);
    feed.offer(4);
    feed.offer(6);
    expect(feed.release()).toEqual([6]);
  });

  it('orders by offset within an epoch, passes a new epoch and unordered items', () => {
    const feed = new HeldFeed(byEpoch);
    feed.seen({ epoch: 'a', offset: 10 });
    feed.offer({ epoch: 'a', offset: 9 });
    feed.offer({ epoch: 'a', offset: 11 });
    feed.offer({});
    expect(feed.release()).toEqual([{ epoch: 'a', offset: 11 }, {}]);
    expect(feed.offer({ epoch: 'a', offset: 11 })).toBe(false);
    expect(feed.offer({ epoch: 'b', offset: 1 })).toBe(true);
  });
});
