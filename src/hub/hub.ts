import type {
  Engine,
  HistoryQuery,
  HistoryResult,
  Origin,
  PresenceMember,
  Publication,
  PublishInput,
  StreamPosition,
} from '../engine/types.js';
import { defaults, WirehubError } from '../protocol/index.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { FanoutTransport } from './fanout.js';
import { Frame } from './frame.js';
import { type Namespace, type NamespaceConfig, Namespaces } from './namespaces.js';
import { isInternalChannel, PresenceKeeper } from './presence.js';
import type { OverflowPolicy, Session } from './session.js';

/**
 * Turns a publication into the bytes one kind of subscriber expects (plain text for
 * `/chat`, a JSON envelope for `/rt`, …). Encoders are shared objects: fan-out encodes each
 * publication once per encoder, not once per subscriber.
 */
export interface Encoder {
  readonly name: string;
  encode(pub: Publication): Frame;
}

/** A session's interest in one channel. */
export interface Subscriber {
  readonly session: Session;
  readonly encoder: Encoder;
  /** Skip publications this session published itself (chat rooms exclude the sender). */
  readonly excludeOwn?: boolean;
  readonly overflow?: OverflowPolicy;
  /**
   * Called before encoding; false skips this subscriber for this publication. `/rt` uses it
   * to hold back live publications while it replays history, and to drop duplicates.
   */
  readonly accept?: (pub: Publication) => boolean;
  /**
   * Called when publications of the channel were lost to this node (a networked engine could
   * not fill a gap): a subscriber that tracks offsets must resync. `/rt` closes its client
   * with 1012 so it resubscribes with `since`; plain subscribers have no way to recover.
   */
  readonly lost?: () => void;
}

export interface HubOptions {
  /** Channel namespaces (or configs that replace/extend the built-in ones). */
  namespaces?: Namespaces | readonly NamespaceConfig[];
  /** TTL of presence entries; this node refreshes its members at a third of it. */
  presenceTtlMs?: number;
  /** Channels one connection may subscribe to at once (enforced by `/rt`). Default 128. */
  maxChannelsPerConnection?: number;
  log?: Logger;
}

/** An in-process listener of a channel (no session, no encoding): see `Hub.watch`. */
export type ChannelWatcher = (pub: Publication) => void;
/** What `Hub.encode` hands back for a publication its encoder could not encode. */
const UNENCODABLE = new Frame(Buffer.alloc(0), false);

/**
 * A subscriber as the hub keeps it: with the transport fan-out group its session is in for
 * this channel (see `FanoutMember`), if any.
 */
interface Entry {
  readonly sub: Subscriber;
  /** The group the session joined for this subscription; undefined while it is in none. */
  group: string | undefined;
  /** A join failed (the session already is in the group through another subscription): sends only. */
  solo: boolean;
  /** Unsubscribed: a fan-out still iterating its snapshot must not join it again. */
  removed: boolean;
}

/** One group publish a delivery makes after its loop. */
interface GroupWrite {
  transport: FanoutTransport;
  group: string;
  frame: Frame;
}

/** Group names are unique in the process: one Bun server's topics may serve several hubs. */
let groupSeq = 0;

interface ChannelState {
  /** Copy-on-write: a fan-out in progress keeps iterating its own snapshot. */
  subscribers: Entry[];
  /** The fan-out group of each encoder of this channel, named on first join. */
  groups: Map<Encoder, string> | undefined;
  /** In-process listeners; copy-on-write like `subscribers`. */
  watchers: ChannelWatcher[];
  /** Resolves once the engine delivers this channel to this node. */
  ready: Promise<void>;
  /** Publications delivered here in the current and the previous rate window (for `channelStats`). */
  windowCount: number;
  previousCount: number;
  windowStart: number;
}

/** What this node holds of one channel (admin views). */
export interface LocalChannelStats {
  channel: string;
  /** Local subscribers (sessions). */
  subscribers: number;
  /** Publications per second delivered to this node, over the last 10–20 s. */
  publicationRate: number;
}

/** Rate windows are this long; the rate reads the previous full window and the current one. */
const RATE_WINDOW_MS = 10_000;

/**
 * Channels and their local subscribers. Publications go out through the engine and come
 * back (from this node or any other) to `deliver`, which fans them out locally.
 *
 * @example
 * ```ts
 * const hub = new Hub(new MemoryEngine());
 * await hub.start();
 * await hub.subscribe('chat:lobby', { session, encoder: plainText, excludeOwn: true });
 * await hub.publish({ channel: 'chat:lobby', data: 'hi', from: { client: session.id } });
 * ```
 */
export class Hub {
  private readonly channels = new Map<string, ChannelState>();
  /**
   * For metrics: deliveries written / skipped because of a full output queue; broker link
   * losses and returns; gaps in live subscriptions filled from history / lost; publications
   * an encoder could not encode (skipped for that encoder's subscribers); subscribers whose
   * delivery threw (skipped for that subscriber).
   */
  readonly counters = {
    deliveries: 0,
    /** Of `deliveries`, those written through a transport fan-out group (one write for many). */
    groupDeliveries: 0,
    /** Group publishes: one per publication and group, whatever the number of its members. */
    groupWrites: 0,
    overflows: 0,
    brokerDowns: 0,
    brokerReconnects: 0,
    gapsRecovered: 0,
    gapsLost: 0,
    encodeFailures: 0,
    deliveryFailures: 0,
  };
  readonly namespaces: Namespaces;
  readonly maxChannelsPerConnection: number;
  private readonly presenceKeeper: PresenceKeeper;
  private readonly log: Logger;
  private linkUp = true;

  constructor(
    readonly engine: Engine,
    options: HubOptions = {},
  ) {
    this.namespaces =
      options.namespaces instanceof Namespaces
        ? options.namespaces
        : new Namespaces(options.namespaces ?? []);
    this.log = options.log ?? silentLogger;
    this.maxChannelsPerConnection = options.maxChannelsPerConnection ?? defaults.maxChannelsPerConnection;
    this.presenceKeeper = new PresenceKeeper(engine, options.presenceTtlMs ?? defaults.presenceTtlMs, (err) =>
      this.log.warn({ err }, 'presence update failed'),
    );
  }

  async start(): Promise<void> {
    // The engine calls these from microtasks and Redis callbacks, where a throw would end the
    // process: none of them may throw (deliver and onGap already contain their failures).
    await this.engine.start((pub) => this.deliver(pub), {
      link: (up) => this.guarded('handling a broker link change', () => this.onLink(up)),
      gap: (channel, recovered) =>
        this.guarded('handling a gap', () => this.onGap(channel, recovered), { channel }),
    });
    this.presenceKeeper.start();
  }

  /** False while a networked engine's link to its broker is down (this node is an island). */
  get brokerUp(): boolean {
    return this.linkUp;
  }

  /**
   * Adds a local subscriber. On a namespace with presence the session becomes a member of
   * the channel (and, after the debounce, its join is announced). Resolves once the engine
   * delivers the channel to this node.
   */
  async subscribe(channel: string, subscriber: Subscriber): Promise<void> {
    const ns = isInternalChannel(channel) ? undefined : this.namespaces.require(channel);
    const state = this.channelState(channel);
    // Copy-on-write: a fan-out in progress keeps iterating its own snapshot.
    const entry: Entry = { sub: subscriber, group: undefined, solo: false, removed: false };
    state.subscribers = [...state.subscribers, entry];
    await state.ready;
    // Unsubscribed while the engine was subscribing: do not leave a ghost member behind.
    const stillThere = this.channels.get(channel)?.subscribers.includes(entry) ?? false;
    if (ns?.presence && stillThere) await this.presenceKeeper.join(channel, ns, memberOf(subscriber.session));
  }

  /**
   * Removes a session's subscription (and its presence) from a channel. The local part is
   * immediate; the returned promise resolves once the presence entry is gone too (it never
   * rejects: a failure is logged, and the entry then expires with its TTL).
   */
  unsubscribe(channel: string, session: Session): Promise<void> {
    const state = this.channels.get(channel);
    if (!state) return Promise.resolve();
    const before = state.subscribers.length;
    state.subscribers = state.subscribers.filter((entry) => {
      if (entry.sub.session !== session) return true;
      entry.removed = true;
      this.leave(entry);
      return false;
    });
    if (state.subscribers.length === before) return Promise.resolve();
    this.releaseIfUnused(channel, state);
    const ns = isInternalChannel(channel) ? undefined : this.namespaces.find(channel);
    if (!ns?.presence) return Promise.resolve();
    return this.presenceKeeper
      .leave(channel, ns, memberOf(session))
      .catch((err: unknown) => this.log.warn({ err, channel }, 'presence leave failed'));
  }

  /**
   * Calls `listener` with every publication of `channel` that reaches this node, in process:
   * no session, no encoding, no presence. For server parts that follow a channel themselves
   * (admin commands between nodes). Returns a function that stops it; resolves once the
   * engine delivers the channel to this node. A listener that throws is logged and skipped.
   *
   * @example
   * ```ts
   * const stop = await hub.watch('$admin', (pub) => console.log(pub.data));
   * stop();
   * ```
   */
  async watch(channel: string, listener: ChannelWatcher): Promise<() => void> {
    const state = this.channelState(channel);
    state.watchers = [...state.watchers, listener];
    const stop = () => {
      const current = this.channels.get(channel);
      if (!current) return;
      current.watchers = current.watchers.filter((w) => w !== listener);
      this.releaseIfUnused(channel, current);
    };
    await state.ready;
    return stop;
  }

  /** The sessions subscribed on this node, each with its channels (admin views). */
  subscriptionsBySession(): Map<Session, string[]> {
    const out = new Map<Session, string[]>();
    for (const [channel, state] of this.channels) {
      for (const { sub } of state.subscribers) {
        const list = out.get(sub.session);
        if (list) list.push(channel);
        else out.set(sub.session, [channel]);
      }
    }
    return out;
  }

  /** This node's channels with local subscribers, and their publication rates (admin views). */
  channelStats(now = Date.now()): LocalChannelStats[] {
    const out: LocalChannelStats[] = [];
    for (const [channel, state] of this.channels) {
      if (state.subscribers.length === 0) continue;
      this.roll(state, now);
      const elapsed = now - state.windowStart;
      const span = Math.max(1, RATE_WINDOW_MS + elapsed);
      out.push({
        channel,
        subscribers: state.subscribers.length,
        publicationRate: ((state.previousCount + state.windowCount) * 1000) / span,
      });
    }
    return out;
  }

  /**
   * Publishes to a channel. The channel's namespace decides whether the publication is kept
   * in history (and so gets an offset and epoch); unknown namespaces are refused.
   */
  publish(input: PublishInput): Promise<Publication> {
    if (isInternalChannel(input.channel) || input.history) return this.engine.publish(input);
    let ns: Namespace;
    try {
      ns = this.namespaces.require(input.channel);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!ns.history) return this.engine.publish(input);
    const withHistory: PublishInput = { channel: input.channel, data: input.data, history: ns.history };
    if (input.from) withHistory.from = input.from;
    return this.engine.publish(withHistory);
  }

  /** A channel's history after `since` (paged by `limit`); `not_enabled` when it keeps none. */
  history(channel: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    const ns = this.namespaces.require(channel);
    if (!ns.history) {
      return Promise.reject(new WirehubError('not_enabled', `channels of ${ns.pattern} keep no history`));
    }
    return this.engine.history(channel, query, ns.history);
  }

  /** A channel's current position, or undefined when its namespace keeps no history. */
  async position(channel: string): Promise<StreamPosition | undefined> {
    const ns = this.namespaces.require(channel);
    return ns.history ? this.engine.position(channel) : undefined;
  }

  /** Who is in a channel (every node); `not_enabled` when its namespace tracks no presence. */
  presence(channel: string): Promise<PresenceMember[]> {
    const ns = this.namespaces.require(channel);
    if (!ns.presence) {
      return Promise.reject(new WirehubError('not_enabled', `channels of ${ns.pattern} track no presence`));
    }
    return this.engine.presenceList(channel);
  }

  /**
   * Channels with local subscribers on this node (internal `$presence:` ones included; those only
   * watched in process, such as the admin API's, are plumbing and not counted).
   */
  get channelCount(): number {
    let count = 0;
    for (const state of this.channels.values()) if (state.subscribers.length > 0) count += 1;
    return count;
  }

  /** Number of local subscribers of a channel on this node. */
  localSubscribers(channel: string): number {
    return this.channels.get(channel)?.subscribers.length ?? 0;
  }

  /**
   * Fans a publication out to this node's subscribers of its channel. Never throws: a
   * publication one encoder cannot encode (data too deep or not JSON, which only code on the
   * server can publish) is skipped for that encoder's subscribers, logged once and counted;
   * a subscriber whose delivery throws is skipped; the others get it.
   *
   * Every subscriber passes the same rules (sender excluded, its filter, its session's output
   * cap and overflow policy). Those on a transport with fan-out groups (`Session.fanout`) are
   * then written with one group publish per encoder after the loop, not one send each; one
   * that a rule keeps out of this delivery leaves the group first, and joins again when it
   * next takes one, so the publish reaches exactly the sessions the rules let through.
   */
  deliver(pub: Publication): void {
    const state = this.channels.get(pub.channel);
    if (!state) return;
    state.windowCount += 1;
    if (state.watchers.length > 0) this.notifyWatchers(state.watchers, pub);
    const own: Origin | undefined = pub.from;
    // Most channels have one encoder; a second one (plain + /rt on the same channel) is
    // common; more is rare. Two slots avoid a Map on the hot path.
    let enc1: Encoder | undefined;
    let frame1: Frame | undefined;
    let enc2: Encoder | undefined;
    let frame2: Frame | undefined;
    let others: Map<Encoder, Frame> | undefined;
    let writes: GroupWrite[] | undefined;
    for (const entry of state.subscribers) {
      const sub = entry.sub;
      try {
        if (
          (sub.excludeOwn && own !== undefined && own.client === sub.session.id) ||
          (sub.accept && !sub.accept(pub))
        ) {
          if (entry.group !== undefined) this.leave(entry);
          continue;
        }
        let frame: Frame;
        if (sub.encoder === enc1 && frame1) frame = frame1;
        else if (sub.encoder === enc2 && frame2) frame = frame2;
        else if (!enc1) {
          enc1 = sub.encoder;
          frame1 = frame = this.encode(sub.encoder, pub) ?? UNENCODABLE;
        } else if (!enc2) {
          enc2 = sub.encoder;
          frame2 = frame = this.encode(sub.encoder, pub) ?? UNENCODABLE;
        } else {
          others ??= new Map();
          let f = others.get(sub.encoder);
          if (!f) {
            f = this.encode(sub.encoder, pub) ?? UNENCODABLE;
            others.set(sub.encoder, f);
          }
          frame = f;
        }
        if (frame === UNENCODABLE) {
          if (entry.group !== undefined) this.leave(entry);
          continue;
        }
        const overflow = sub.overflow ?? 'disconnect';
        const fanout = entry.solo || entry.removed ? undefined : sub.session.fanout;
        const group = fanout && (entry.group ?? this.join(state, entry));
        if (fanout && group !== undefined) {
          if (fanout.admit(frame, overflow)) {
            this.counters.deliveries += 1;
            this.counters.groupDeliveries += 1;
            writes = addWrite(writes, fanout.fanoutTransport, group, frame);
          } else {
            this.counters.overflows += 1;
            this.leave(entry);
          }
          continue;
        }
        if (sub.session.send(frame, overflow)) this.counters.deliveries += 1;
        else this.counters.overflows += 1;
      } catch (err) {
        this.counters.deliveryFailures += 1;
        // Out of the group too: a later group publish must not reach it either.
        if (entry.group !== undefined) this.leave(entry);
        this.log.error(
          { err, channel: pub.channel, publication: pub.id, session: sub.session.id },
          'delivering a publication to a subscriber failed: skipped for that subscriber',
        );
      }
    }
    if (writes) this.writeGroups(writes, pub);
  }

  /** The group publishes of one delivery, after every member passed its rules. */
  private writeGroups(writes: readonly GroupWrite[], pub: Publication): void {
    for (const write of writes) {
      try {
        write.transport.publish(write.group, write.frame);
        this.counters.groupWrites += 1;
      } catch (err) {
        this.counters.deliveryFailures += 1;
        this.log.error(
          { err, channel: pub.channel, publication: pub.id, group: write.group },
          'writing a publication to a fan-out group failed',
        );
      }
    }
  }

  /** Joins an entry's session to its encoder's group of the channel; undefined when it cannot. */
  private join(state: ChannelState, entry: Entry): string | undefined {
    const fanout = entry.sub.session.fanout;
    if (!fanout) return undefined;
    state.groups ??= new Map();
    let group = state.groups.get(entry.sub.encoder);
    if (group === undefined) {
      groupSeq += 1;
      group = `wirehub.${groupSeq}`;
      state.groups.set(entry.sub.encoder, group);
    }
    if (!fanout.joinGroup(group)) {
      // Already in it through another subscription of the same session, or closed: one
      // topic message would stand for two deliveries, so this one is sent on its own.
      entry.solo = true;
      return undefined;
    }
    entry.group = group;
    return group;
  }

  /** Takes an entry's session out of its group (it does not take the delivery in progress). */
  private leave(entry: Entry): void {
    const group = entry.group;
    if (group === undefined) return;
    entry.group = undefined;
    entry.sub.session.fanout?.leaveGroup(group);
  }

  /**
   * `encoder.encode(pub)`, or undefined when it throws (logged with the channel, counted in
   * `counters.encodeFailures`). For frames built outside `deliver` (an `/rt` subscription
   * releasing what it held during a replay), so an unencodable publication is skipped there too.
   */
  encode(encoder: Encoder, pub: Publication): Frame | undefined {
    try {
      return encoder.encode(pub);
    } catch (err) {
      this.counters.encodeFailures += 1;
      this.log.error(
        { err, channel: pub.channel, publication: pub.id, encoder: encoder.name },
        'a publication could not be encoded: skipped for the subscribers of this encoder',
      );
      return undefined;
    }
  }

  /** Runs an engine callback's work; a throw is logged, never passed back to the engine. */
  private guarded(what: string, work: () => void, context: Record<string, unknown> = {}): void {
    try {
      work();
    } catch (err) {
      this.log.error({ err, ...context }, `${what} failed`);
    }
  }

  private notifyWatchers(watchers: readonly ChannelWatcher[], pub: Publication): void {
    for (const watcher of watchers) {
      try {
        watcher(pub);
      } catch (err) {
        this.log.error({ err, channel: pub.channel }, 'a channel watcher failed');
      }
    }
  }

  private channelState(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      state = {
        subscribers: [],
        groups: undefined,
        watchers: [],
        ready: this.engine.subscribe(channel),
        windowCount: 0,
        previousCount: 0,
        windowStart: Date.now(),
      };
      this.channels.set(channel, state);
    }
    return state;
  }

  /** Stops the engine delivering a channel nobody here follows any more. */
  private releaseIfUnused(channel: string, state: ChannelState): void {
    if (state.subscribers.length > 0 || state.watchers.length > 0) return;
    this.channels.delete(channel);
    this.engine.unsubscribe(channel).catch(() => {});
  }

  /** Moves the rate windows forward to `now` (reads do it; the hot path only counts). */
  private roll(state: ChannelState, now: number): void {
    const windows = Math.floor((now - state.windowStart) / RATE_WINDOW_MS);
    if (windows <= 0) return;
    state.previousCount = windows === 1 ? state.windowCount : 0;
    state.windowCount = 0;
    state.windowStart += windows * RATE_WINDOW_MS;
  }

  private onLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    if (!up) {
      this.counters.brokerDowns += 1;
      this.log.warn('broker link down: publications of other nodes stop arriving');
      return;
    }
    this.counters.brokerReconnects += 1;
    this.log.info('broker link back: subscriptions re-established');
    // The broker may have lost presence (a restarted Redis is empty): put this node's back.
    this.presenceKeeper.rejoinAll();
  }

  private onGap(channel: string, recovered: boolean): void {
    if (recovered) {
      this.counters.gapsRecovered += 1;
      return;
    }
    this.counters.gapsLost += 1;
    const state = this.channels.get(channel);
    this.log.warn(
      { channel, subscribers: state?.subscribers.length ?? 0 },
      'publications lost to this node: offset-tracking subscribers must resync',
    );
    for (const { sub } of state?.subscribers ?? []) {
      try {
        sub.lost?.();
      } catch (err) {
        this.log.error({ err, channel, session: sub.session.id }, 'telling a subscriber about a gap failed');
      }
    }
  }

  async close(): Promise<void> {
    this.presenceKeeper.stop();
    this.channels.clear();
    await this.engine.close();
  }
}

function memberOf(session: Session): PresenceMember {
  const member: PresenceMember = { client: session.id, connectedAt: session.connectedAt.getTime() };
  if (session.user !== undefined) member.user = session.user;
  return member;
}

/** Adds a group publish to a delivery's list, once per transport and group. */
function addWrite(
  writes: GroupWrite[] | undefined,
  transport: FanoutTransport,
  group: string,
  frame: Frame,
): GroupWrite[] {
  if (!writes) return [{ transport, group, frame }];
  for (const w of writes) if (w.group === group && w.transport === transport) return writes;
  writes.push({ transport, group, frame });
  return writes;
}
