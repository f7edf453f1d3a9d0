import { IdSequence, randomId } from '../../util/ids.js';
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

/**
 * The embedded engine: one process, everything in memory. Publications are delivered to
 * the handler in a microtask, in publish order, so `publish()` behaves like a networked
 * engine (asynchronous) without the latency.
 */
export class MemoryEngine implements Engine {
  readonly kind: string = 'memory';
  private handler: PublicationHandler | undefined;
  private readonly subscribed = new Set<string>();
  protected readonly streams = new Map<string, ChannelStream>();
  private readonly presence = new PresenceTable();
  private readonly ids = new IdSequence(randomId('n', 6));

  async start(handler: PublicationHandler): Promise<void> {
    this.handler = handler;
  }

  async publish(input: PublishInput): Promise<Publication> {
    const pub = newPublication(this.ids.mint(), input);
    if (input.history) this.stream(input.channel).append(pub, input.history);
    if (this.subscribed.has(input.channel)) {
      const handler = this.handler;
      if (handler) queueMicrotask(() => handler(pub));
    }
    return pub;
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
    return this.stream(channel).position();
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
    this.handler = undefined;
    this.subscribed.clear();
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
