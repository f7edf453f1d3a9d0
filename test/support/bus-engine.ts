import { ChannelStream } from '../../src/engine/memory/channel-stream.js';
import { PresenceTable } from '../../src/engine/memory/presence-table.js';
import { newPublication } from '../../src/engine/publication.js';
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
} from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/index.js';
import { IdSequence, randomId } from '../../src/util/ids.js';

/** Most publications one catch-up replays before it calls the gap lost (as the Redis engine bounds it). */
const MAX_CATCH_UP = 1000;

/**
 * An in-process bus that N engines (N hubs, "nodes") share, like socket.io-adapter's test
 * adapter: one store (streams, presence) and one pub/sub, so cluster logic (offset gaps, a node
 * losing its link, presence of a dead node expiring) is tested without Redis. Each node has
 * switches: `linkDown()`/`linkUp()` and `dropNext(n)`.
 *
 * @example
 * ```ts
 * const bus = new MemoryBus();
 * const a = new Hub(bus.node()), b = new Hub(bus.node());
 * bus.nodes[1]?.dropNext(); // b misses the next publication live and fills it from history
 * ```
 */
export class MemoryBus {
  readonly streams = new Map<string, ChannelStream>();
  readonly presence = new PresenceTable();
  readonly nodes: BusEngine[] = [];

  /** A new engine on this bus. */
  node(): BusEngine {
    const engine = new BusEngine(this);
    this.nodes.push(engine);
    return engine;
  }

  stream(channel: string): ChannelStream {
    let stream = this.streams.get(channel);
    if (!stream) {
      stream = new ChannelStream(randomId('e', 6));
      this.streams.set(channel, stream);
    }
    return stream;
  }

  /** Expires history and presence, forgets idle unwatched streams, as if the clock read `now`. */
  sweep(now = Date.now()): void {
    for (const [channel, stream] of this.streams) {
      stream.expire(now);
      const watched = this.nodes.some((n) => n.isSubscribed(channel));
      if (!watched && now > stream.forgetAt()) this.streams.delete(channel);
    }
    this.presence.sweep(now);
  }

  /** Hands a publication to every node, each in a microtask (asynchronous like a broker). */
  fanOut(pub: Publication): void {
    for (const node of this.nodes) queueMicrotask(() => node.receive(pub));
  }
}

/** One node's engine on a `MemoryBus`. */
export class BusEngine implements Engine {
  readonly kind = 'bus';
  private handler: PublicationHandler | undefined;
  private events: EngineEvents = {};
  private up = true;
  private drop = 0;
  /** Per subscribed channel, the last position delivered to this node (channels with history). */
  private readonly subscribed = new Map<string, StreamPosition | undefined>();
  private readonly ids = new IdSequence(randomId('n', 6));

  constructor(private readonly bus: MemoryBus) {}

  isSubscribed(channel: string): boolean {
    return this.subscribed.has(channel);
  }

  /** The link to the bus breaks: nothing arrives, publish, history and presence fail. */
  linkDown(): void {
    if (!this.up) return;
    this.up = false;
    this.events.link?.(false);
  }

  /** The link is back: every subscribed channel with history is caught up (or reported lost). */
  linkUp(): void {
    if (this.up) return;
    this.up = true;
    this.events.link?.(true);
    for (const channel of this.subscribed.keys()) this.catchUp(channel, undefined);
  }

  /** The next `n` publications to this node are lost in transit (the next one shows the gap). */
  dropNext(n = 1): void {
    this.drop += n;
  }

  async start(handler: PublicationHandler, events: EngineEvents = {}): Promise<void> {
    this.handler = handler;
    this.events = events;
  }

  async publish(input: PublishInput): Promise<Publication> {
    this.assertUp();
    const pub = newPublication(this.ids.mint(), input);
    if (input.history) this.bus.stream(input.channel).append(pub, input.history);
    this.bus.fanOut(pub);
    return pub;
  }

  /** A publication from the bus. */
  receive(pub: Publication): void {
    if (!this.up || !this.subscribed.has(pub.channel)) return;
    if (this.drop > 0) {
      this.drop -= 1;
      return;
    }
    const last = this.subscribed.get(pub.channel);
    if (pub.epoch !== undefined && pub.offset !== undefined && last && last.epoch === pub.epoch) {
      if (pub.offset <= last.offset) return;
      if (pub.offset > last.offset + 1) {
        this.catchUp(pub.channel, pub);
        return;
      }
    }
    this.deliver(pub);
  }

  async subscribe(channel: string): Promise<void> {
    if (this.subscribed.has(channel)) return;
    this.subscribed.set(channel, this.bus.stream(channel).position());
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }

  async history(channel: string, query: HistoryQuery, policy: HistoryPolicy): Promise<HistoryResult> {
    this.assertUp();
    return this.bus.stream(channel).read(query, policy);
  }

  async position(channel: string): Promise<StreamPosition> {
    this.assertUp();
    const stream = this.bus.stream(channel);
    stream.lastUsed = Date.now();
    return stream.position();
  }

  async presenceAdd(channel: string, member: PresenceMember, ttlMs?: number): Promise<void> {
    this.assertUp();
    this.bus.presence.add(channel, member, ttlMs);
  }

  async presenceRefresh(channel: string, clients: string[], ttlMs: number): Promise<void> {
    this.assertUp();
    this.bus.presence.refresh(channel, clients, ttlMs);
  }

  async presenceRemove(channel: string, client: string): Promise<void> {
    this.assertUp();
    this.bus.presence.remove(channel, client);
  }

  async presenceList(channel: string): Promise<PresenceMember[]> {
    this.assertUp();
    return this.bus.presence.list(channel);
  }

  async presenceCount(channel: string): Promise<number> {
    this.assertUp();
    return this.bus.presence.count(channel);
  }

  async close(): Promise<void> {
    this.handler = undefined;
    this.subscribed.clear();
    const i = this.bus.nodes.indexOf(this);
    if (i >= 0) this.bus.nodes.splice(i, 1);
  }

  private deliver(pub: Publication): void {
    if (pub.epoch !== undefined && pub.offset !== undefined)
      this.subscribed.set(pub.channel, { epoch: pub.epoch, offset: pub.offset });
    this.handler?.(pub);
  }

  /**
   * Fills what this node missed of `channel` from the shared history, in order, then `arrived`
   * (the publication that showed the gap, if any): `gap(channel, true)`; or, when history no
   * longer covers it (trimmed, a new epoch, too many), `gap(channel, false)` and goes on live.
   */
  private catchUp(channel: string, arrived: Publication | undefined): void {
    const last = this.subscribed.get(channel);
    const stream = this.bus.streams.get(channel);
    if (!last || !stream?.policy) {
      if (arrived) this.deliver(arrived);
      return;
    }
    const missed = stream.read({ since: last, limit: MAX_CATCH_UP + 1 }, stream.policy);
    const behind = !missed.complete || missed.publications.length > 0 || missed.epoch !== last.epoch;
    if (!behind) {
      if (arrived) this.deliver(arrived);
      return;
    }
    const recovered = missed.complete && missed.publications.length <= MAX_CATCH_UP;
    if (recovered) for (const pub of missed.publications) this.deliver(pub);
    else this.subscribed.set(channel, { epoch: missed.epoch, offset: missed.offset });
    this.events.gap?.(channel, recovered);
  }

  private assertUp(): void {
    if (!this.up) throw new WirehubError('broker_unavailable', 'the bus link is down (linkDown())');
  }
}
