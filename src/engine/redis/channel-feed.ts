import type { Publication, StreamPosition } from '../types.js';

/** What a catch-up read found in a channel's stream (epoch `''`: the channel has no stream). */
export interface CatchUp extends StreamPosition {
  /**
   * The offset the epoch started after: 0 for a new stream; the restored offset for a stream
   * that started a new epoch after Redis restarted or failed over (its older entries belong
   * to the previous epoch and were delivered, or lost, then).
   */
  base: number;
  /** Publications after the feed's offset (after the epoch's base on a new epoch). */
  publications: Publication[];
}

/** What a feed needs from the engine. */
export interface FeedHost {
  /** Most missed publications filled from the stream; beyond that the gap is reported lost. */
  readonly maxFill: number;
  deliver(pub: Publication): void;
  /** Reads the stream after `offset` of `epoch` (from its start when the epoch differs). */
  catchUp(channel: string, epoch: string | undefined, offset: number, count: number): Promise<CatchUp>;
  /** True when a failed read was the link breaking (the feed then waits for the reconnect). */
  linkBroken(): boolean;
  gap(channel: string, recovered: boolean): void;
}

/**
 * One subscribed channel on this node: the live publications of a channel with history pass
 * through it in offset order, each exactly once. Redis pub/sub is at-most-once, so the feed
 * checks every offset: one that skips ahead (a message lost, or the link broke) makes it read
 * the missing publications from the stream and deliver them first, holding live ones back
 * meanwhile. When the stream cannot fill the gap (trimmed, a new epoch because Redis lost its
 * data, too many missed) the loss is reported, and subscribers that track offsets resync.
 */
export class ChannelFeed {
  /** The node has local subscribers (publications are delivered). */
  wanted = true;
  /** SUBSCRIBEd on the current subscriber connection. */
  subscribed = false;
  /** The position was read before the first SUBSCRIBE (the feed knows where it starts). */
  baselined = false;
  /** Last epoch and offset that passed (`undefined`/0: none yet, or the channel has no stream). */
  epoch: string | undefined;
  offset = 0;
  /** Live publications held back while a catch-up runs (or waits for the link to come back). */
  private pending: Publication[] | undefined;
  private catchingUp: Promise<void> | undefined;
  private again = false;

  constructor(
    readonly channel: string,
    readonly pubsubChannel: string,
    private readonly host: FeedHost,
  ) {}

  /**
   * The earliest position of this channel given to a local subscriber before the feed knew
   * where it starts. A feed created while the link recovers is subscribed later than its
   * subscribers read their position; starting at its own (later) read would skip what was
   * published in between without anyone noticing.
   */
  private givenOut: StreamPosition | undefined;

  /** A position of this channel was read for a local subscriber (which goes live from it). */
  gaveOut(position: StreamPosition): void {
    if (!this.baselined) this.givenOut ??= { epoch: position.epoch, offset: position.offset };
  }

  /**
   * Sets where the feed starts, from a read made after SUBSCRIBE (while holding live
   * publications): the position given out earliest, else the read. Returns true when the
   * feed starts behind the read and must `catchUp()`; otherwise the held publications pass.
   */
  begin(read: StreamPosition | undefined): boolean {
    const start = this.givenOut ?? read;
    this.givenOut = undefined;
    this.epoch = start?.epoch;
    this.offset = start?.offset ?? 0;
    this.baselined = true;
    if (start !== read && (start?.epoch !== read?.epoch || start?.offset !== read?.offset)) return true;
    this.release();
    return false;
  }

  /** A live publication from pub/sub. */
  receive(pub: Publication): void {
    if (pub.offset === undefined) {
      // No history, no offsets: at-most-once, nothing to check.
      if (this.wanted) this.host.deliver(pub);
      return;
    }
    if (this.pending) {
      this.pending.push(pub);
      return;
    }
    this.advance(pub);
  }

  /** Holds live publications until the next `catchUp()` (call before re-subscribing). */
  hold(): void {
    this.pending ??= [];
  }

  /**
   * Reads what the stream has after the feed's position, delivers it, then releases the held
   * live publications (dropping the ones already delivered). Resolves when done; a read that
   * fails because the link broke leaves the feed holding until the next catch-up.
   */
  catchUp(): Promise<void> {
    this.hold();
    if (this.catchingUp) {
      // A gap found while releasing held publications: go round once more.
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = this.catchUpLoop().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  private advance(pub: Publication): void {
    const offset = pub.offset ?? 0;
    if (pub.epoch !== this.epoch) {
      if (offset > 1 && this.wanted) {
        // A new epoch that does not start at 1 here: where it started (its base) is for the
        // stream to say. The catch-up reports the loss and delivers what follows the base.
        this.pending = [pub];
        void this.catchUp();
        return;
      }
      // A new epoch: the old stream is gone (Redis lost it, or it expired).
      if (this.epoch !== undefined && this.wanted) this.host.gap(this.channel, false);
      this.epoch = pub.epoch;
      this.offset = 0;
    }
    if (offset <= this.offset) return;
    if (offset > this.offset + 1 && this.wanted) {
      this.pending = [pub];
      void this.catchUp();
      return;
    }
    this.offset = offset;
    if (this.wanted) this.host.deliver(pub);
  }

  private async catchUpLoop(): Promise<void> {
    do {
      this.again = false;
      let found: CatchUp;
      try {
        found = await this.host.catchUp(this.channel, this.epoch, this.offset, this.host.maxFill + 1);
      } catch {
        if (this.host.linkBroken()) return;
        // The link is fine but the read failed: do not stall the channel; the gap is lost.
        this.host.gap(this.channel, false);
        this.resumeFromHeld();
        continue;
      }
      this.apply(found);
      this.release();
    } while (this.again);
  }

  private apply(found: CatchUp): void {
    let lost = false;
    if (found.epoch === '') {
      lost = this.epoch !== undefined;
      this.epoch = undefined;
      this.offset = 0;
    } else if (found.epoch !== this.epoch) {
      // A new epoch (Redis lost the stream, or restarted from an older copy of it).
      lost = this.epoch !== undefined;
      this.epoch = found.epoch;
      this.offset = found.base;
    }
    const missing = found.offset - this.offset;
    let publications = found.publications;
    if (missing > this.host.maxFill) {
      lost = true;
      publications = [];
      this.offset = found.offset;
    } else if (missing > 0 && publications[0]?.offset !== this.offset + 1) {
      // Trimmed before the gap: what is left is still delivered, after the loss is reported.
      lost = true;
    }
    if (lost && this.wanted) this.host.gap(this.channel, false);
    let delivered = 0;
    for (const pub of publications) {
      if ((pub.offset ?? 0) <= this.offset) continue;
      this.offset = pub.offset ?? this.offset;
      delivered += 1;
      if (this.wanted) this.host.deliver(pub);
    }
    if (!lost && delivered > 0 && this.wanted) this.host.gap(this.channel, true);
  }

  /** After a failed read: go on from the first held publication. */
  private resumeFromHeld(): void {
    const first = this.pending?.[0];
    if (first?.offset !== undefined) {
      this.epoch = first.epoch;
      this.offset = first.offset - 1;
    }
    this.release();
  }

  /** Passes the held publications through in order; one may start another catch-up. */
  private release(): void {
    const held = this.pending ?? [];
    this.pending = undefined;
    for (let i = 0; i < held.length; i += 1) {
      // advance() below may have started another catch-up, which holds again.
      const holding = this.pending as Publication[] | undefined;
      if (holding) {
        holding.push(...held.slice(i));
        return;
      }
      const pub = held[i];
      if (pub) this.advance(pub);
    }
  }
}
