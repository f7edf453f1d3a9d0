import { IdSequence, randomId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import { newPublication } from '../publication.js';
import type {
  Engine,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PresenceMember,
  Publication,
  PublicationHandler,
  PublishInput,
  StreamPosition,
} from '../types.js';
import { ChannelStream } from './channel-stream.js';
import { PresenceTable } from './presence-table.js';

export interface MemoryEngineOptions {
  /** How often idle channels are swept out of memory (ms); default 60 s. */
  sweepIntervalMs?: number;
  /** Where a failed sweep is reported; silent when absent. */
  log?: Logger;
}

/** What an embedded engine holds in memory right now (for tests and metrics). */
export interface EngineSizes {
  /** Channel streams in memory. */
  streams: number;
  /** Channels with presence entries. */
  presenceChannels: number;
}

/**
 * The embedded engine: one process, everything in memory. Publications are delivered to
 * the handler in a microtask, in publish order, so `publish()` behaves like a networked
 * engine (asynchronous) without the latency.
 *
 * Memory stays bounded by the channels in use: a sweep (every `sweepIntervalMs`, or `sweep()`)
 * drops expired publications and forgets a stream unused for 2 × its history TTL, the same
 * rule as the Redis engine (src/engine/retention.ts). A channel with a local subscriber is
 * never forgotten: this engine has no `gap` event to tell that subscriber its epoch changed.
 *
 * @example
 * ```ts
 * const engine = new MemoryEngine({ sweepIntervalMs: 30_000 });
 * await engine.start((pub) => console.log(pub.channel, pub.data));
 * engine.sweep(); // what the timer does: forget idle channels now
 * engine.sizes(); // { streams: 0, presenceChannels: 0 }
 * ```
 */
export class MemoryEngine implements Engine {
  readonly kind: string = 'memory';
  private handler: PublicationHandler | undefined;
  protected readonly subscribed = new Set<string>();
  protected readonly streams = new Map<string, ChannelStream>();
  private readonly presence = new PresenceTable();
  private readonly ids = new IdSequence(randomId('n', 6));
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly engineOptions: MemoryEngineOptions = {}) {}

  async start(handler: PublicationHandler): Promise<void> {
    this.handler = handler;
    this.sweeper ??= setInterval(() => {
      try {
        this.sweep();
      } catch (err) {
        // A timer must not crash the process; the next sweep tries again.
        this.engineOptions.log?.error({ err }, 'sweeping idle channels failed');
      }
    }, this.engineOptions.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  /**
   * Forgets the streams unused for longer than they are kept (2 × history TTL), drops expired
   * publications and presence members. Runs on a timer; `now` lets tests look ahead.
   */
  sweep(now = Date.now()): void {
    for (const [channel, stream] of this.streams) this.sweepStream(channel, stream, now);
    this.presence.sweep(now);
  }

  sizes(): EngineSizes {
    return { streams: this.streams.size, presenceChannels: this.presence.channelCount };
  }

  /**
   * Acks once the publication is in memory: nothing of it survives the process (history,
   * offsets and epochs start over after a restart, with a new epoch).
   */
  async publish(input: PublishInput): Promise<Publication> {
    const pub = this.mint(input);
    if (input.history) this.stream(input.channel).append(pub, input.history);
    if (this.subscribed.has(input.channel)) {
      const handler = this.handler;
      if (handler) queueMicrotask(() => handler(pub));
    }
    return pub;
  }

  /** A new publication of `input`, with this node's next id. */
  protected mint(input: PublishInput): Publication {
    return newPublication(this.ids.mint(), input);
  }

  /** Hands a publication to the node's handler now, when its channel is subscribed here. */
  protected deliverNow(pub: Publication): void {
    if (!this.subscribed.has(pub.channel)) return;
    this.handler?.(pub);
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }

  async history(channel: string, query: HistoryQuery, policy: HistoryPolicy): Promise<HistoryResult> {
    return this.stream(channel).read(query, policy);
  }

  async position(channel: string): Promise<StreamPosition> {
    const stream = this.stream(channel);
    stream.lastUsed = Date.now();
    return stream.position();
  }

  async presenceAdd(channel: string, member: PresenceMember, ttlMs?: number): Promise<void> {
    this.presence.add(channel, member, ttlMs);
  }

  async presenceRefresh(channel: string, clients: string[], ttlMs: number): Promise<void> {
    this.presence.refresh(channel, clients, ttlMs);
  }

  async presenceRemove(channel: string, client: string): Promise<void> {
    this.presence.remove(channel, client);
  }

  async presenceList(channel: string): Promise<PresenceMember[]> {
    return this.presence.list(channel);
  }

  async presenceCount(channel: string): Promise<number> {
    return this.presence.count(channel);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.handler = undefined;
    this.subscribed.clear();
  }

  /** One stream's part of the sweep: expire its history, forget it when unused long enough. */
  protected sweepStream(channel: string, stream: ChannelStream, now: number): void {
    stream.expire(now);
    if (!this.subscribed.has(channel) && now > stream.forgetAt()) this.streams.delete(channel);
  }

  protected stream(channel: string): ChannelStream {
    let stream = this.streams.get(channel);
    if (!stream) {
      stream = new ChannelStream(randomId('e', 6));
      this.streams.set(channel, stream);
    }
    return stream;
  }
}
