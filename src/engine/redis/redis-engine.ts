import { IdSequence, randomId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import { SerialByKey } from '../../util/serial.js';
import { newPublication } from '../publication.js';
import { positionKeepMs } from '../retention.js';
import type {
  Engine,
  EngineEvents,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PresenceMember,
  Publication,
  PublicationHandler,
  PublishInput,
  StreamPosition,
} from '../types.js';
import { type CatchUp, ChannelFeed, type FeedHost } from './channel-feed.js';
import {
  decodeEntries,
  decodeMember,
  decodeMessage,
  encodeMember,
  encodePayload,
  type StreamEntry,
} from './codec.js';
import { brokerUnavailable, DEFAULT_REDIS_PREFIX, redisCall, redisClientName } from './connection.js';
import { RedisKeys } from './keys.js';
import { RedisLink } from './redis-link.js';
import {
  CATCH_UP_SCRIPT,
  HISTORY_SCRIPT,
  POSITION_SCRIPT,
  PRESENCE_ADD_SCRIPT,
  PRESENCE_LIST_SCRIPT,
  PRESENCE_REFRESH_SCRIPT,
  PRESENCE_REMOVE_SCRIPT,
  PUBLISH_SCRIPT,
} from './scripts.js';

export interface RedisEngineOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of every key and pub/sub channel, so several deployments can share a Redis. Default `wirehub:`. */
  prefix?: string;
  /**
   * Most publications a node reads from a stream to fill one gap in a live subscription;
   * beyond that the gap is reported lost and `/rt` clients resync. Default 1000.
   */
  maxFill?: number;
  /** A Redis command unanswered this long fails and counts as a broken link. Default 5 s. */
  commandTimeoutMs?: number;
  /** Interval of the PING that proves a quiet link is alive. Default 5 s. */
  linkCheckMs?: number;
  /** Delay before reconnect attempt n. Default 50 ms doubling up to 2 s. */
  retryDelayMs?: (attempt: number) => number;
  log?: Logger;
}

type Reply = string | number | null | Reply[];

/** The scripts, as ioredis commands (EVALSHA, falling back to EVAL after a Redis restart). */
interface Scripted {
  whPublish(pos: string, log: string, ...args: (string | number)[]): Promise<[string, number]>;
  whPosition(pos: string, log: string, newEpoch: string, run: string): Promise<[string, number]>;
  whHistory(pos: string, log: string, ...args: (string | number)[]): Promise<[string, number, StreamEntry[]]>;
  whCatchUp(
    pos: string,
    log: string,
    ...args: (string | number)[]
  ): Promise<[string, number, number, StreamEntry[]]>;
  whPresenceAdd(who: string, members: string, ...args: string[]): Promise<Reply>;
  whPresenceRefresh(who: string, members: string, ...args: string[]): Promise<Reply>;
  whPresenceRemove(who: string, members: string, client: string): Promise<Reply>;
  whPresenceList(who: string, members: string, now: string): Promise<string[]>;
}

const SCRIPTS: Record<keyof Scripted, string> = {
  whPublish: PUBLISH_SCRIPT,
  whPosition: POSITION_SCRIPT,
  whHistory: HISTORY_SCRIPT,
  whCatchUp: CATCH_UP_SCRIPT,
  whPresenceAdd: PRESENCE_ADD_SCRIPT,
  whPresenceRefresh: PRESENCE_REFRESH_SCRIPT,
  whPresenceRemove: PRESENCE_REMOVE_SCRIPT,
  whPresenceList: PRESENCE_LIST_SCRIPT,
};

/**
 * The cluster engine: every node connects to the same Redis and behaves as one server.
 *
 * - **Fan-out**: one Redis pub/sub channel per wirehub channel (`<prefix>{<channel>}:pub`);
 *   a node SUBSCRIBEs while it has local subscribers, so each publication crosses the network
 *   once per interested node, never once per client.
 * - **History**: a Redis Stream per channel (`XADD … MAXLEN ~`, TTL); offset and epoch are
 *   assigned by a Lua script that appends and publishes in one atomic step, so concurrent
 *   publishers on any number of nodes get gap-free, increasing offsets.
 * - **Loss detection**: pub/sub is at-most-once. Each subscribed channel with history checks
 *   offsets; a gap, or a link that broke, makes the node read the missing publications from
 *   the stream and deliver them before anything newer. What it cannot fill is reported
 *   (`EngineEvents.gap`), so `/rt` clients resync and learn `recovered: false`.
 * - **Presence**: a sorted set of expiries per channel; each node refreshes its own members,
 *   so the members of a node that died expire after the TTL.
 *
 * While Redis is unreachable, publications on channels without history are delivered to
 * this node's subscribers only; publishing on channels with history, history, and presence
 * reads fail with `broker_unavailable`.
 *
 * @example
 * ```ts
 * import { createServer } from 'wirehub';
 * import { RedisEngine } from 'wirehub/redis';
 * const server = await createServer({ engine: new RedisEngine({ url: 'redis://127.0.0.1:6379' }) });
 * // or simply: createServer({ redis: 'redis://127.0.0.1:6379' })
 * ```
 */
export class RedisEngine implements Engine {
  readonly kind = 'redis';
  private readonly keys: RedisKeys;
  private readonly ids = new IdSequence(randomId('n', 6));
  private readonly epochs = new IdSequence(randomId('e', 6));
  private readonly link: RedisLink;
  private readonly scripts: Scripted;
  private readonly feeds = new Map<string, ChannelFeed>();
  private readonly feedsByPubsub = new Map<string, ChannelFeed>();
  /** Per channel: the SUBSCRIBE/UNSUBSCRIBE in flight, so they apply in call order. */
  private readonly transitions = new SerialByKey();
  private readonly feedHost: FeedHost;
  private handler: PublicationHandler | undefined;
  private events: EngineEvents = {};
  private up = false;
  /** Bumped on every link drop, so a recovery overtaken by another drop stops. */
  private generation = 0;

  constructor(private readonly options: RedisEngineOptions) {
    this.keys = new RedisKeys(options.prefix ?? DEFAULT_REDIS_PREFIX);
    this.link = new RedisLink({
      url: options.url,
      name: redisClientName(this.ids.prefix),
      retryDelayMs: options.retryDelayMs ?? ((n) => Math.min(50 * 2 ** (n - 1), 2_000)),
      commandTimeoutMs: options.commandTimeoutMs ?? 5_000,
      linkCheckMs: options.linkCheckMs ?? 5_000,
      ...(options.log ? { log: options.log } : {}),
    });
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      this.link.cmd.defineCommand(name, { numberOfKeys: 2, lua });
    }
    this.scripts = this.link.cmd as unknown as Scripted;
    const maxFill = options.maxFill ?? 1000;
    this.feedHost = {
      maxFill,
      deliver: (pub) => this.handler?.(pub),
      catchUp: (channel, epoch, offset, count) => this.readAfter(channel, epoch, offset, count),
      linkBroken: () => !this.link.connected,
      gap: (channel, recovered) => this.events.gap?.(channel, recovered),
    };
  }

  /** This node's id: prefix of its publication ids, and of its connection names in `CLIENT LIST`. */
  get nodeId(): string {
    return this.ids.prefix;
  }

  /** False while the link to Redis is down (or being re-established). */
  get linkUp(): boolean {
    return this.up;
  }

  async start(handler: PublicationHandler, events: EngineEvents = {}): Promise<void> {
    this.handler = handler;
    this.events = events;
    await this.link.connect({
      down: () => this.onDown(),
      ready: () => {
        void this.recover();
      },
      message: (name, text) => this.onMessage(name, text),
    });
    this.up = true;
  }

  /**
   * On a channel with history, acks once the publish script ran on the Redis primary: the
   * publication is in Redis's memory, and survives what Redis's own persistence makes it
   * survive (nothing without RDB/AOF; with AOF `everysec` a crash of the Redis process, not
   * the last second before a power loss). After a restart or failover of Redis, streams start
   * a new epoch (see scripts.ts), so an offset lost that way is never handed out again.
   */
  async publish(input: PublishInput): Promise<Publication> {
    const pub = newPublication(this.ids.mint(), input);
    // Serialised before anything is sent: data that cannot be stored fails alone.
    const payload = encodePayload(pub);
    const pubsub = this.keys.pubsub(input.channel);
    if (!input.history) {
      if (!this.link.connected) {
        // No broker: this node's subscribers still get it (other nodes cannot).
        this.deliverLocally(pub);
        return pub;
      }
      await this.call(() => this.link.cmd.publish(pubsub, payload));
      return pub;
    }
    const { size, ttlMs } = input.history;
    const [epoch, offset] = await this.call(async () =>
      this.scripts.whPublish(
        this.keys.position(input.channel),
        this.keys.log(input.channel),
        this.epochs.mint(),
        size,
        ttlMs,
        positionKeepMs(ttlMs),
        payload,
        pubsub,
        await this.link.runId(),
      ),
    );
    pub.epoch = epoch;
    pub.offset = Number(offset);
    return pub;
  }

  async subscribe(channel: string): Promise<void> {
    const feed = this.feeds.get(channel);
    if (feed) feed.wanted = true;
    else {
      const created = new ChannelFeed(channel, this.keys.pubsub(channel), this.feedHost);
      this.feeds.set(channel, created);
      this.feedsByPubsub.set(created.pubsubChannel, created);
    }
    await this.transition(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    const feed = this.feeds.get(channel);
    if (!feed) return;
    feed.wanted = false;
    await this.transition(channel);
  }

  async history(channel: string, query: HistoryQuery, policy: HistoryPolicy): Promise<HistoryResult> {
    const now = Date.now();
    const since = query.since;
    const count = Math.min(query.limit ?? policy.size, policy.size);
    const [epoch, rawOffset, entries] = await this.call(async () =>
      this.scripts.whHistory(
        this.keys.position(channel),
        this.keys.log(channel),
        this.epochs.mint(),
        positionKeepMs(policy.ttlMs),
        since ? 'after' : 'last',
        since?.epoch ?? '',
        since?.offset ?? 0,
        count,
        await this.link.runId(),
      ),
    );
    const offset = Number(rawOffset);
    this.feeds.get(channel)?.gaveOut({ epoch, offset });
    // The stream is trimmed approximately (MAXLEN ~) and by key TTL; the exact bounds are
    // applied here: the newest `size` offsets, minus a front of publications older than ttl.
    const lowest = Math.max(1, offset - policy.size + 1);
    const oldest = now - policy.ttlMs;
    const pubs = decodeEntries(channel, epoch, entries);
    if (!since) {
      const kept = pubs.reverse().filter((p) => (p.offset ?? 0) >= lowest);
      while (kept.length > 0 && (kept[0]?.at ?? now) < oldest) kept.shift();
      return { epoch, offset, publications: kept, complete: true };
    }
    const first = pubs[0];
    const covered =
      since.epoch === epoch &&
      since.offset <= offset &&
      (since.offset === offset ||
        (first !== undefined &&
          first.offset === since.offset + 1 &&
          since.offset + 1 >= lowest &&
          first.at >= oldest));
    if (!covered) return { epoch, offset, publications: [], complete: false };
    return { epoch, offset, publications: pubs, complete: true };
  }

  async position(channel: string): Promise<StreamPosition> {
    const [epoch, offset] = await this.call(async () =>
      this.scripts.whPosition(
        this.keys.position(channel),
        this.keys.log(channel),
        this.epochs.mint(),
        await this.link.runId(),
      ),
    );
    const position = { epoch, offset: Number(offset) };
    this.feeds.get(channel)?.gaveOut(position);
    return position;
  }

  async presenceAdd(channel: string, member: PresenceMember, ttlMs?: number): Promise<void> {
    const expiry = ttlMs === undefined ? '+inf' : String(Date.now() + ttlMs);
    await this.call(() =>
      this.scripts.whPresenceAdd(
        this.keys.presenceExpiry(channel),
        this.keys.presenceMembers(channel),
        member.client,
        encodeMember(member),
        expiry,
        ttlMs === undefined ? '' : String(ttlMs),
      ),
    );
  }

  async presenceRefresh(channel: string, clients: string[], ttlMs: number): Promise<void> {
    if (clients.length === 0) return;
    await this.call(() =>
      this.scripts.whPresenceRefresh(
        this.keys.presenceExpiry(channel),
        this.keys.presenceMembers(channel),
        String(Date.now() + ttlMs),
        String(ttlMs),
        ...clients,
      ),
    );
  }

  async presenceRemove(channel: string, client: string): Promise<void> {
    await this.call(() =>
      this.scripts.whPresenceRemove(
        this.keys.presenceExpiry(channel),
        this.keys.presenceMembers(channel),
        client,
      ),
    );
  }

  async presenceList(channel: string): Promise<PresenceMember[]> {
    const json = await this.call(() =>
      this.scripts.whPresenceList(
        this.keys.presenceExpiry(channel),
        this.keys.presenceMembers(channel),
        String(Date.now()),
      ),
    );
    return json.map(decodeMember);
  }

  async presenceCount(channel: string): Promise<number> {
    return this.call(() => this.link.cmd.zcount(this.keys.presenceExpiry(channel), `(${Date.now()}`, '+inf'));
  }

  async close(): Promise<void> {
    this.up = false;
    this.generation += 1;
    this.handler = undefined;
    this.feeds.clear();
    this.feedsByPubsub.clear();
    await this.link.close();
  }

  private onMessage(pubsubChannel: string, text: string): void {
    const feed = this.feedsByPubsub.get(pubsubChannel);
    if (!feed) return;
    let pub: Publication;
    try {
      pub = decodeMessage(feed.channel, text);
    } catch {
      this.options.log?.warn({ channel: feed.channel }, 'undecodable message on redis pub/sub: dropped');
      return;
    }
    feed.receive(pub);
  }

  private deliverLocally(pub: Publication): void {
    if (!this.feeds.get(pub.channel)?.wanted) return;
    const handler = this.handler;
    if (handler) queueMicrotask(() => handler(pub));
  }

  /**
   * Brings the Redis subscription of a channel in line with its feed, one transition at a
   * time per channel. While the link is down it does nothing: the recovery after the
   * reconnect subscribes every wanted feed.
   */
  private transition(channel: string): Promise<void> {
    return this.transitions.run(channel, () => this.applyTransition(channel));
  }

  private async applyTransition(channel: string): Promise<void> {
    const feed = this.feeds.get(channel);
    if (!feed) return;
    // Link down: the recovery after the reconnect subscribes the wanted feeds, drops the others.
    if (!this.up) return;
    try {
      if (feed.wanted && !feed.subscribed) {
        await this.subscribeFeed(feed);
      } else if (!feed.wanted && feed.subscribed) {
        await this.link.sub.unsubscribe(feed.pubsubChannel);
        feed.subscribed = false;
      }
    } catch (err) {
      // The link broke meanwhile: the recovery takes over.
      if (!this.link.connected) return;
      throw brokerUnavailable(err, 'the message broker');
    }
    if (!feed.wanted && !feed.subscribed) this.dropFeed(feed);
  }

  /** SUBSCRIBE, after reading where the channel stands when the feed is new. */
  private async subscribeFeed(feed: ChannelFeed): Promise<void> {
    // Hold what arrives until the feed knows where it stands.
    feed.hold();
    await this.link.sub.subscribe(feed.pubsubChannel);
    feed.subscribed = true;
    if (!feed.baselined) {
      // A new feed: where the channel stands, read after SUBSCRIBE so nothing published later
      // is missed (a stream restored by another Redis process starts a new epoch first, so the
      // feed does not begin in an epoch that is about to end).
      const { epoch, offset } = await this.readAfter(feed.channel, undefined, 0, 0);
      if (!feed.begin(epoch ? { epoch, offset } : undefined)) return;
    }
    // A feed that was live before the link broke, or that must start where a subscriber
    // was told it starts: fill the gap from the stream.
    await feed.catchUp();
  }

  private dropFeed(feed: ChannelFeed): void {
    if (this.feeds.get(feed.channel) !== feed) return;
    this.feeds.delete(feed.channel);
    this.feedsByPubsub.delete(feed.pubsubChannel);
  }

  private onDown(): void {
    this.generation += 1;
    for (const feed of this.feeds.values()) feed.subscribed = false;
    if (!this.up) return;
    this.up = false;
    this.events.link?.(false);
  }

  /**
   * After a reconnect: re-subscribe every wanted channel and catch each one up from its
   * stream, then declare the link up. A drop during the recovery abandons it; the next
   * reconnect starts over.
   */
  private async recover(): Promise<void> {
    const generation = this.generation;
    try {
      for (;;) {
        const todo = [...this.feeds.values()].filter((f) => !f.subscribed);
        for (const feed of todo) if (!feed.wanted) this.dropFeed(feed);
        const wanted = todo.filter((f) => f.wanted);
        if (wanted.length === 0) break;
        await Promise.all(wanted.map((feed) => this.subscribeFeed(feed)));
        if (generation !== this.generation) return;
      }
    } catch (err) {
      if (generation !== this.generation || !this.link.connected) return;
      this.options.log?.error({ err }, 'redis recovery failed: reconnecting');
      this.link.reconnect();
      return;
    }
    if (generation !== this.generation || !this.link.connected) return;
    this.up = true;
    this.events.link?.(true);
  }

  private async readAfter(
    channel: string,
    epoch: string | undefined,
    offset: number,
    count: number,
  ): Promise<CatchUp> {
    const [found, last, base, entries] = await this.scripts.whCatchUp(
      this.keys.position(channel),
      this.keys.log(channel),
      epoch ?? '',
      offset,
      count,
      await this.link.runId(),
      this.epochs.mint(),
    );
    return {
      epoch: found,
      offset: Number(last),
      base: Number(base),
      publications: found === '' ? [] : decodeEntries(channel, found, entries),
    };
  }

  /**
   * Runs a Redis call; a failure of the link becomes `broker_unavailable`. A link that is
   * down fails the call at once: a socket to a hung Redis stays open (status `ready`) until
   * ioredis' disconnect timeout, and a command sent on it would wait the whole command
   * timeout for an answer that never comes.
   */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.link.connected) {
      return Promise.reject(brokerUnavailable(new Error('the link is down'), 'the message broker'));
    }
    return redisCall('the message broker', fn);
  }
}
