import type { Publication, StreamPosition } from '../../engine/types.js';
import { type FeedOrder, HeldFeed } from '../../hub/held-feed.js';
import type { Hub } from '../../hub/hub.js';
import type { Namespace } from '../../hub/namespaces.js';
import { presenceChannel } from '../../hub/presence.js';
import type { Session } from '../../hub/session.js';
import { CloseCode, RT_RECOVERY_MAX, type RtSubscribeResult, WirehubError } from '../../protocol/index.js';
import type { ChannelAccess } from './channel-access.js';
import { rtMessageEncoder, rtPresenceEncoder, toRtPublication } from './encoders.js';

/** Publications in offset order within an epoch; a new epoch starts a new order. */
const byOffset: FeedOrder<Publication, StreamPosition> = {
  position: (pub) =>
    pub.epoch === undefined || pub.offset === undefined
      ? undefined
      : { epoch: pub.epoch, offset: pub.offset },
  after: (p, last) => p.epoch !== last.epoch || p.offset > last.offset,
};

/**
 * One channel subscription of an `/rt` connection: a `HeldFeed` of its publications. While it
 * replays history it holds back live publications; afterwards it passes each publication
 * once, in offset order, dropping the ones the client already has.
 */
class ChannelSubscription {
  readonly feed = new HeldFeed(byOffset);
  /** Whether the connection gets this channel's join/leave pushes (needs the `presence` grant). */
  joinLeave = false;

  constructor(readonly namespace: Namespace) {}

  /** The hub's filter: hold while recovering, then pass only what is new. */
  readonly accept = (pub: Publication): boolean => this.feed.offer(pub);
}

/**
 * The channels one `/rt` connection is subscribed to, within the per-connection limit and
 * its grants. Subscribing needs the `subscribe` grant; replaying missed publications is
 * reading history, so it needs the `history` grant too (without it a `since` gets
 * `recovered: false`); join/leave pushes tell who is there, so they need the `presence`
 * grant. Subscribing with `since` replays the missed publications gap-free
 * (`recovered: true`) or says `recovered: false` with the current position: never a silent gap.
 */
/** The channels of a connection that subscribed to none: one empty Map read by all of them. */
const NO_CHANNELS = new Map<string, ChannelSubscription>();

export class RtSubscriptions {
  /** `NO_CHANNELS` until the first subscribe: an idle connection holds no Map of its own. */
  private channels = NO_CHANNELS;
  private closed = false;

  constructor(
    private readonly hub: Hub,
    private readonly session: Session,
    private readonly access: ChannelAccess,
  ) {}

  get size(): number {
    return this.channels.size;
  }

  /**
   * Subscribes and builds the reply. `afterReply` must run right after the reply is sent: it
   * delivers what was published during the replay and switches to live delivery.
   */
  async subscribe(
    channel: string,
    since: StreamPosition | undefined,
  ): Promise<{ result: RtSubscribeResult; afterReply: () => void }> {
    // Grants first: a refusal tells nothing about which namespaces exist.
    await this.access.assert('subscribe', channel);
    const ns = this.hub.namespaces.require(channel);
    if (this.channels.has(channel)) {
      throw new WirehubError('already_subscribed', `already subscribed to ${channel}`);
    }
    const max = this.hub.maxChannelsPerConnection;
    if (this.channels.size >= max) {
      throw new WirehubError('too_many_channels', `a connection may subscribe to ${max} channels at most`, {
        max,
      });
    }
    const sub = new ChannelSubscription(ns);
    if (this.channels === NO_CHANNELS) this.channels = new Map();
    this.channels.set(channel, sub);
    try {
      if (ns.joinLeave && (await this.access.may('presence', channel)))
        await this.hearJoinLeave(channel, sub);
      await this.hub.subscribe(channel, {
        session: this.session,
        encoder: rtMessageEncoder,
        overflow: ns.overflow,
        accept: sub.accept,
        // This node lost publications it could not fill from history: the client must not
        // go on with a silent gap. 1012 makes it reconnect and resubscribe with `since`,
        // which replays the gap or answers `recovered: false`.
        // (The reason stays short: a close reason has at most 123 bytes, a channel name 200.)
        lost: () => this.session.close(CloseCode.Restart, 'publications lost: resubscribe with since'),
      });
      this.throwIfClosed(channel, sub);
      const result = await this.catchUp(channel, ns, since, sub);
      this.throwIfClosed(channel, sub);
      const afterReply = () => {
        for (const pub of sub.feed.release()) {
          // Skipped like in the hub's fan-out when it cannot be encoded (logged there).
          const frame = this.hub.encode(rtMessageEncoder, pub);
          if (frame) this.session.send(frame, ns.overflow);
        }
      };
      return { result, afterReply };
    } catch (err) {
      this.drop(channel);
      throw err;
    }
  }

  /** Leaving needs no grant: it can only reduce what the connection gets. */
  unsubscribe(channel: string): void {
    if (!this.channels.has(channel)) throw new WirehubError('not_subscribed', `not subscribed to ${channel}`);
    this.drop(channel);
  }

  /**
   * Checks every subscription against the connection's grants again (after a `refresh`
   * brought new ones): leaves the channels it may no longer subscribe to and returns them,
   * and starts or stops join/leave pushes as the `presence` grant now says.
   */
  async recheck(): Promise<string[]> {
    const left: string[] = [];
    for (const [channel, sub] of [...this.channels]) {
      if (!(await this.access.may('subscribe', channel))) {
        this.drop(channel);
        left.push(channel);
        continue;
      }
      const hear = sub.namespace.joinLeave && (await this.access.may('presence', channel));
      if (hear && !sub.joinLeave) await this.hearJoinLeave(channel, sub);
      else if (!hear && sub.joinLeave) {
        sub.joinLeave = false;
        this.hub.unsubscribe(presenceChannel(channel), this.session);
      }
    }
    return left;
  }

  private async hearJoinLeave(channel: string, sub: ChannelSubscription): Promise<void> {
    sub.joinLeave = true;
    await this.hub.subscribe(presenceChannel(channel), {
      session: this.session,
      encoder: rtPresenceEncoder,
      excludeOwn: true,
    });
    // Left (or closed) meanwhile: leave no join/leave feed behind.
    if (this.channels.get(channel) !== sub) this.hub.unsubscribe(presenceChannel(channel), this.session);
  }

  /** Leaves every channel for good (the connection closed). */
  clear(): void {
    this.closed = true;
    for (const channel of [...this.channels.keys()]) this.drop(channel);
  }

  /** The connection closed while a subscribe was in flight: undo what it set up. */
  private throwIfClosed(channel: string, sub: ChannelSubscription): void {
    if (!this.closed) return;
    this.channels.delete(channel);
    this.release(channel, sub);
    throw new WirehubError('not_ready', 'the connection closed');
  }

  private release(channel: string, sub: ChannelSubscription): void {
    this.hub.unsubscribe(channel, this.session);
    // Unsubscribing from a channel one never joined is a no-op, so this is safe mid-subscribe too.
    if (sub.namespace.joinLeave) this.hub.unsubscribe(presenceChannel(channel), this.session);
  }

  private async catchUp(
    channel: string,
    ns: Namespace,
    since: StreamPosition | undefined,
    sub: ChannelSubscription,
  ): Promise<RtSubscribeResult> {
    if (!ns.history) return since ? { recovered: false, publications: [] } : { publications: [] };
    // Replaying is reading history: without that grant the client is told it missed something.
    if (!since || !(await this.access.may('history', channel))) {
      const position = await this.hub.engine.position(channel);
      sub.feed.seen(position);
      if (since)
        return { epoch: position.epoch, offset: position.offset, recovered: false, publications: [] };
      return { epoch: position.epoch, offset: position.offset, publications: [] };
    }
    const missed = await this.hub.history(channel, { since, limit: RT_RECOVERY_MAX + 1 });
    sub.feed.seen({ epoch: missed.epoch, offset: missed.offset });
    if (!missed.complete || missed.publications.length > RT_RECOVERY_MAX) {
      return { epoch: missed.epoch, offset: missed.offset, recovered: false, publications: [] };
    }
    return {
      epoch: missed.epoch,
      offset: missed.offset,
      recovered: true,
      publications: missed.publications.map(toRtPublication),
    };
  }

  private drop(channel: string): void {
    const sub = this.channels.get(channel);
    if (!sub) return;
    this.channels.delete(channel);
    this.release(channel, sub);
  }
}
