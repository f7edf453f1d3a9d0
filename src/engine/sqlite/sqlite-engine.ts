import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ChannelStream } from '../memory/channel-stream.js';
import { MemoryEngine } from '../memory/memory-engine.js';
import type {
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  Publication,
  PublicationHandler,
  PublishInput,
} from '../types.js';
import { ChannelStore } from './channel-store.js';

export interface SqliteEngineOptions {
  /** The database file, e.g. `<dataDir>/channels.db`; its folder is created when missing. */
  file: string;
}

/**
 * The embedded default engine: the memory engine (one process, history in memory) with every
 * channel stream persisted to SQLite, so a restart on the same data dir keeps history,
 * offsets and epochs. Streams load lazily, the first time a channel is used after a start.
 * Presence stays in memory: after a restart nobody is connected.
 *
 * @example
 * ```ts
 * import { createServer, SqliteEngine } from 'wirehub';
 * const server = await createServer({ engine: new SqliteEngine({ file: './data/channels.db' }) });
 * ```
 */
export class SqliteEngine extends MemoryEngine {
  override readonly kind: string = 'sqlite';
  private store: ChannelStore | undefined;

  constructor(private readonly options: SqliteEngineOptions) {
    super();
  }

  override async start(handler: PublicationHandler): Promise<void> {
    mkdirSync(dirname(this.options.file), { recursive: true });
    this.store = new ChannelStore(this.options.file);
    await super.start(handler);
  }

  override async publish(input: PublishInput): Promise<Publication> {
    const pub = await super.publish(input);
    if (input.history) {
      const stream = this.streams.get(input.channel);
      if (stream) this.requireStore().append(pub, stream.firstOffset());
    }
    return pub;
  }

  override async history(
    channel: string,
    query: HistoryQuery,
    policy: HistoryPolicy,
  ): Promise<HistoryResult> {
    const result = await super.history(channel, query, policy);
    const stream = this.streams.get(channel);
    // Reading trims expired publications in memory; drop them from the file too.
    if (stream) this.requireStore().trimBelow(channel, stream.firstOffset());
    return result;
  }

  override async close(): Promise<void> {
    this.store?.close();
    this.store = undefined;
    await super.close();
  }

  protected override stream(channel: string): ChannelStream {
    const cached = this.streams.get(channel);
    if (cached) return cached;
    const store = this.requireStore();
    const stored = store.load(channel);
    let stream: ChannelStream;
    if (stored) {
      stream = new ChannelStream(stored.epoch, stored.offset);
      for (const pub of stored.publications) stream.restore(pub);
    } else {
      stream = super.stream(channel);
      // Persist the epoch at once: a client that saw offset 0 of it can recover after a restart.
      store.savePosition(channel, stream.position());
    }
    this.streams.set(channel, stream);
    return stream;
  }

  private requireStore(): ChannelStore {
    if (!this.store) throw new Error('the sqlite engine is not started (or already closed)');
    return this.store;
  }
}
