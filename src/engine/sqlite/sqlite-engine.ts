import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ChannelStream } from '../memory/channel-stream.js';
import { MemoryEngine, type MemoryEngineOptions } from '../memory/memory-engine.js';
import type {
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  Publication,
  PublicationHandler,
  PublishInput,
} from '../types.js';
import { ChannelStore } from './channel-store.js';

export interface SqliteEngineOptions extends MemoryEngineOptions {
  /** The database file, e.g. `<dataDir>/channels.db`; its folder is created when missing. */
  file: string;
  /**
   * A stream unused this long (ms) and without a local subscriber leaves memory; it stays on
   * disk and loads again, same epoch and offset, on its next use. Default 10 min.
   */
  unloadAfterMs?: number;
}

/**
 * The embedded default engine: the memory engine (one process, history in memory) with every
 * channel stream persisted to SQLite, so a restart on the same data dir keeps history,
 * offsets and epochs. Streams load lazily, the first time a channel is used after a start.
 * Presence stays in memory: after a restart nobody is connected.
 *
 * Memory and disk stay bounded by the channels in use. The sweep (see `MemoryEngine`) also
 * unloads streams unused for `unloadAfterMs` (written back first), forgets those unused for
 * 2 × their history TTL from memory and disk alike, and deletes such streams from the file
 * when they are not loaded, after a restart too (`forget_at` in the streams table). Expired
 * publications of loaded streams leave the file at each sweep; those of an unloaded stream
 * stay until its next use or until it is forgotten, at most one TTL later.
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
    super(options);
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
      if (stream) this.requireStore().append(pub, stream, stream.firstOffset());
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

  /** The memory sweep, then deleting the file's streams unused for longer than they are kept. */
  override sweep(now = Date.now()): void {
    const store = this.store;
    if (!store) return;
    // Nothing queued may be committed after a stream this sweep deletes.
    store.flush();
    super.sweep(now);
    store.deleteStale(now, (channel) => this.streams.has(channel));
  }

  override async close(): Promise<void> {
    await super.close();
    const store = this.store;
    this.store = undefined;
    if (!store) return;
    // Reads refreshed the last use of loaded streams in memory only: keep it for the next start.
    for (const [channel, stream] of this.streams) store.saveStream(channel, stream);
    this.streams.clear();
    store.close();
  }

  protected override sweepStream(channel: string, stream: ChannelStream, now: number): void {
    const store = this.requireStore();
    if (stream.expire(now)) store.trimBelow(channel, stream.firstOffset());
    if (this.subscribed.has(channel)) return;
    if (now > stream.forgetAt()) {
      this.streams.delete(channel);
      store.forget(channel);
    } else if (now - stream.lastUsed > (this.options.unloadAfterMs ?? 10 * 60 * 1000)) {
      this.streams.delete(channel);
      store.saveStream(channel, stream);
    }
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
      // Only the TTL is stored: enough to expire and forget the stream until a call brings
      // the whole policy. The stream is used now (loading it is a use).
      if (stored.ttlMs !== undefined) stream.policy = { size: Number.POSITIVE_INFINITY, ttlMs: stored.ttlMs };
    } else {
      stream = super.stream(channel);
      // Persist the epoch at once: a client that saw offset 0 of it can recover after a restart.
      store.saveStream(channel, stream);
    }
    this.streams.set(channel, stream);
    return stream;
  }

  private requireStore(): ChannelStore {
    if (!this.store) throw new Error('the sqlite engine is not started (or already closed)');
    return this.store;
  }
}
