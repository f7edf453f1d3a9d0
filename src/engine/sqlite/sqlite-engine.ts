import { ChannelStream } from '../memory/channel-stream.js';
import { MemoryEngine, type MemoryEngineOptions } from '../memory/memory-engine.js';
import { storedJson } from '../publication.js';
import type { StoreHealth } from '../store-health.js';
import type {
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  Publication,
  PublicationHandler,
  PublishInput,
  StreamPosition,
} from '../types.js';
import { ChannelStore } from './channel-store.js';
import type { SqliteSync } from './sqlite-file.js';
import { readBootId } from './unclean-stop.js';

export interface SqliteEngineOptions extends MemoryEngineOptions {
  /** The database file, e.g. `<dataDir>/channels.db`; its folder is created when missing. */
  file: string;
  /**
   * A stream unused this long (ms) and without a local subscriber leaves memory; it stays on
   * disk and loads again, same epoch and offset, on its next use. Default 10 min.
   */
  unloadAfterMs?: number;
  /**
   * What an ack survives (see `SqliteSync`): `normal` (default) a crash of the process, `full`
   * also a power loss or an OS crash (one fsync per group commit).
   */
  sync?: SqliteSync;
  /**
   * This boot's id, to tell a crash of the process (same boot: nothing committed was lost)
   * from a reboot (the last commits may be lost: every stream starts a new epoch). Default:
   * Linux's `/proc/sys/kernel/random/boot_id`; undefined means unknown (assume the worst).
   */
  bootId?: () => string | undefined;
  /** While the file fails, how often a probe write checks whether it works again. Default 1 s. */
  probeEveryMs?: number;
}

/**
 * The embedded default engine: the memory engine (one process, history in memory) with every
 * channel stream persisted to SQLite, so a restart on the same data dir keeps history,
 * offsets and epochs. Streams load lazily, the first time a channel is used after a start.
 * Presence stays in memory: after a restart nobody is connected.
 *
 * **An ack means committed.** On a channel with history, `publish()` resolves once the
 * transaction holding the publication committed (group commit: everything published in one
 * turn of the event loop commits in one transaction), and subscribers get it only then. Reads
 * that reveal a position (`history`, `position`) commit what is queued first. So whatever a
 * client saw is in the file: a crash of the process loses none of it (WAL), a power loss none
 * with `sync: 'full'`. After an unclean stop where commits may have been lost (a reboot with
 * `normal`), every stream starts a new epoch, so no offset is reused for other data (see
 * `epochDecision`). A publication whose data cannot be serialised fails alone
 * (`json_too_deep`, `invalid_message`); a commit that fails (disk full, I/O error) fails its publications with
 * `store_unavailable`, makes the store not ready (`health`), and reloads the touched streams
 * from the file, so no offset that is not stored stays handed out.
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
 * const server = await createServer({ engine: new SqliteEngine({ file: './data/channels.db', sync: 'full' }) });
 * ```
 */
export class SqliteEngine extends MemoryEngine {
  override readonly kind: string = 'sqlite';
  private store: ChannelStore | undefined;

  constructor(private readonly options: SqliteEngineOptions) {
    super(options);
  }

  /** The health of channels.db (readiness, `/metrics`); undefined before `start()`. */
  get health(): StoreHealth | undefined {
    return this.store?.health;
  }

  override async start(handler: PublicationHandler): Promise<void> {
    this.store = new ChannelStore({
      file: this.options.file,
      sync: this.options.sync,
      bootId: (this.options.bootId ?? readBootId)(),
      probeEveryMs: this.options.probeEveryMs,
      log: this.options.log,
      // Nothing of a failed commit was revealed: reload those streams from what the file has.
      onFailedCommit: (channels) => {
        for (const channel of channels) this.streams.delete(channel);
      },
    });
    await super.start(handler);
  }

  override publish(input: PublishInput): Promise<Publication> {
    const policy = input.history;
    if (!policy) return super.publish(input);
    try {
      // Serialised before the offset is given: data that cannot be stored fails alone, gap-free.
      const json = storedJson(input.data);
      const store = this.requireStore();
      const stream = this.stream(input.channel);
      const pub = this.mint(input);
      stream.append(pub, policy);
      return store.append(pub, json, stream, stream.firstOffset()).then(() => {
        // Committed: now subscribers may see it (in offset order: the continuations of one
        // commit run in append order, and commits in order).
        try {
          this.deliverNow(pub);
        } catch (err) {
          // The publication is stored: its publisher must not be told otherwise.
          this.options.log?.error({ err, channel: pub.channel }, 'delivering a stored publication failed');
        }
        return pub;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  override async history(
    channel: string,
    query: HistoryQuery,
    policy: HistoryPolicy,
  ): Promise<HistoryResult> {
    this.committed(channel);
    const result = await super.history(channel, query, policy);
    const stream = this.streams.get(channel);
    // Reading trims expired publications in memory; drop them from the file too.
    if (stream) this.requireStore().trimBelow(channel, stream.firstOffset());
    return result;
  }

  override async position(channel: string): Promise<StreamPosition> {
    this.committed(channel);
    return super.position(channel);
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

  /**
   * Loads (or starts) the channel's stream and commits what is queued, so a read reveals
   * only committed positions: an offset a client saw can never be lost in a crash.
   */
  private committed(channel: string): void {
    this.stream(channel);
    const store = this.requireStore();
    if (store.hasPending) store.flush();
  }

  private requireStore(): ChannelStore {
    if (!this.store) throw new Error('the sqlite engine is not started (or already closed)');
    return this.store;
  }
}
