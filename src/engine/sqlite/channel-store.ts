import type { Logger } from '../../util/logger.js';
import { KEEP_WITHOUT_POLICY_MS } from '../retention.js';
import type { StoreHealth } from '../store-health.js';
import type { Origin, Publication, StreamPosition } from '../types.js';
import type { SqliteDatabase } from './driver.js';
import { SqliteFile, type SqliteSync } from './sqlite-file.js';
import { epochDecision } from './unclean-stop.js';

interface PublicationRow {
  offset: number;
  id: string;
  data: string;
  from_client: string | null;
  from_user: string | null;
  at: number;
}

interface StreamRow extends StreamPosition {
  ttl_ms: number | null;
}

/** A channel stream as persisted: its position, history TTL and kept publications in offset order. */
export interface StoredStream extends StreamPosition {
  /** The history TTL last used on the stream; undefined when never known. */
  ttlMs: number | undefined;
  publications: Publication[];
}

/**
 * What the store writes of a live stream. Read when the queue is committed, so the newest
 * position and last use win and queueing a write allocates nothing.
 */
export interface StreamState {
  readonly epoch: string;
  readonly offset: number;
  readonly policy: { readonly ttlMs: number } | undefined;
  /** When the stream, unused since, may be deleted (ms since the Unix epoch). */
  forgetAt(): number;
}

/**
 * `ttl_ms` and `forget_at` (when the stream, unused since, is deleted: its last use plus
 * 2 × ttl) let a sweep delete idle channels without loading them, also after a restart. Only
 * publications refresh them on every commit; reads refresh them in memory and are written when
 * the stream leaves memory or the engine closes (a crash may lose them: the channel is then
 * forgotten early and its clients told `recovered: false`, never a silent gap).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS streams (
  channel   TEXT PRIMARY KEY,
  epoch     TEXT NOT NULL,
  offset    INTEGER NOT NULL,
  ttl_ms    INTEGER,
  forget_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS publications (
  channel     TEXT NOT NULL,
  offset      INTEGER NOT NULL,
  id          TEXT NOT NULL,
  data        TEXT NOT NULL,
  from_client TEXT,
  from_user   TEXT,
  at          INTEGER NOT NULL,
  PRIMARY KEY (channel, offset)
) WITHOUT ROWID;
`;

/** Columns added to `streams` after the first schema: added to older files on open. */
const ADDED_COLUMNS: readonly [string, string][] = [
  ['ttl_ms', 'INTEGER'],
  ['forget_at', 'INTEGER'],
];

const INDEXES = 'CREATE INDEX IF NOT EXISTS streams_by_forget_at ON streams (forget_at);';

/** Idle streams deleted per statement batch of a sweep. */
const SWEEP_BATCH = 500;

/** A queued publication and its data, serialised when it was appended. */
interface QueuedInsert {
  pub: Publication;
  json: string;
}

/** The commit the queued publications wait for. */
interface PendingCommit {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function pendingCommit(): PendingCommit {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface ChannelStoreOptions {
  file: string;
  sync?: SqliteSync | undefined;
  /** This boot's id (see unclean-stop.ts); undefined when unknown. */
  bootId?: string | undefined;
  /** Stamps the empty streams of a file older than `forget_at` (see migrate). */
  now?: number | undefined;
  /** While the store fails, how often a probe write checks whether it works again. */
  probeEveryMs?: number | undefined;
  log?: Logger | undefined;
  /**
   * A commit failed: these channels' queued writes are lost, so their streams in memory are
   * ahead of the file. The engine drops them from memory; the next use reloads what the file
   * has (nothing of the failed commit was revealed, so no revealed offset is reused).
   */
  onFailedCommit?: ((channels: Set<string>) => void) | undefined;
}

/**
 * The SQLite file behind the embedded engine's channel history.
 *
 * **Group commit**: writes are queued and committed together once per event-loop turn (one
 * transaction for a burst of publications instead of one each); `append()` returns the
 * promise of that commit, so the engine acks a publication (and delivers it) only once it is
 * in the file. `flush()` commits at once (before a read reveals a position); `close()` flushes
 * first, so a graceful stop loses nothing. WAL mode keeps commits cheap.
 *
 * **A failed commit** (disk full, I/O error, a lock) rejects its publications with
 * `store_unavailable`, makes the store not ready and tells the engine which channels it
 * touched (`onFailedCommit`), so no offset that is not in the file stays handed out.
 *
 * **Unclean stops**: the file records whether the last process closed it (`meta`), in which
 * boot and with which `synchronous`. At open, when commits may have been lost (see
 * `epochDecision`), every stream gets a new epoch, so no offset is ever reused for other data.
 */
export class ChannelStore {
  readonly file: SqliteFile;
  private readonly db: SqliteDatabase;
  private readonly stmts;
  private inserts: QueuedInsert[] = [];
  private readonly positions = new Map<string, StreamState>();
  private readonly trims = new Map<string, number>();
  private readonly forgets = new Set<string>();
  private pending: PendingCommit | undefined;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly log: Logger | undefined;
  private readonly onFailedCommit: ChannelStoreOptions['onFailedCommit'];
  private closed = false;

  constructor(options: ChannelStoreOptions) {
    this.log = options.log;
    this.onFailedCommit = options.onFailedCommit;
    this.file = new SqliteFile({
      file: options.file,
      store: 'channels',
      contents: 'channel history',
      sync: options.sync,
      probeEveryMs: options.probeEveryMs,
      log: options.log,
    });
    const db = this.file.db;
    this.db = db;
    try {
      db.exec(SCHEMA);
      this.migrate(options.now ?? Date.now());
      db.exec(INDEXES);
      this.startSession(options.bootId);
    } catch (err) {
      throw this.file.setupFailed(err);
    }
    this.stmts = {
      stream: db.prepare<[string], StreamRow>('SELECT epoch, offset, ttl_ms FROM streams WHERE channel = ?'),
      publications: db.prepare<[string], PublicationRow>(
        'SELECT offset, id, data, from_client, from_user, at FROM publications WHERE channel = ? ORDER BY offset',
      ),
      upsertStream: db.prepare<[string, string, number, number | null, number]>(
        `INSERT INTO streams (channel, epoch, offset, ttl_ms, forget_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch, offset = excluded.offset,
           ttl_ms = excluded.ttl_ms, forget_at = excluded.forget_at`,
      ),
      insert: db.prepare<[string, number, string, string, string | null, string | null, number]>(
        'INSERT OR REPLACE INTO publications (channel, offset, id, data, from_client, from_user, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      trim: db.prepare<[string, number]>('DELETE FROM publications WHERE channel = ? AND offset < ?'),
      dropChannel: db.prepare<[string]>('DELETE FROM publications WHERE channel = ?'),
      dropStream: db.prepare<[string]>('DELETE FROM streams WHERE channel = ?'),
      stale: db.prepare<[number, number, number], { channel: string }>(
        'SELECT channel FROM streams WHERE forget_at < ? ORDER BY forget_at LIMIT ? OFFSET ?',
      ),
    };
  }

  get health(): StoreHealth {
    return this.file.health;
  }

  /**
   * Decides whether the streams keep their epochs (see `epochDecision`), starts new ones when
   * they may not, and records, durably, that a process now has the file open: if it dies, the
   * next open knows.
   */
  private startSession(bootId: string | undefined): void {
    const previous = {
      state: this.file.meta('session'),
      bootId: this.file.meta('boot_id'),
      sync: this.file.meta('sync'),
    };
    const hasStreams = this.db.prepare('SELECT 1 FROM streams LIMIT 1').get() !== undefined;
    const decision = epochDecision(previous, bootId, hasStreams);
    if (!decision.keep) {
      // A fresh random epoch per stream; offsets and kept publications stay (what the file
      // has is consistent: it is only perhaps shorter than what was revealed).
      const rotated = this.db
        .prepare("UPDATE streams SET epoch = 'e-' || lower(hex(randomblob(6)))")
        .run().changes;
      this.log?.warn(
        { file: this.file.file, streams: rotated, reason: decision.reason },
        'channels.db: every stream starts a new epoch (clients resubscribing with an older position get recovered: false)',
      );
    } else if (previous.state === 'open') {
      this.log?.info({ file: this.file.file, reason: decision.reason }, 'channels.db: epochs kept');
    }
    this.file.setMetaDurably({ session: 'open', boot_id: bootId ?? '', sync: this.file.sync });
  }

  /**
   * Adds the retention columns to a file written before they existed. Its streams' TTLs are
   * unknown: empty ones (nothing to lose) get the keep-without-policy delay from now; those
   * with publications keep `forget_at` NULL, so no sweep deletes them before the channel is
   * used again and learns its policy (they are a finite legacy set, not a growing one).
   */
  private migrate(now: number): void {
    const columns = new Set((this.db.pragma('table_info(streams)') as { name: string }[]).map((c) => c.name));
    const missing = ADDED_COLUMNS.filter(([name]) => !columns.has(name));
    if (missing.length === 0) return;
    this.db.transaction(() => {
      for (const [name, type] of missing) this.db.exec(`ALTER TABLE streams ADD COLUMN ${name} ${type}`);
      this.db.prepare('UPDATE streams SET forget_at = ? WHERE offset = 0').run(now + KEEP_WITHOUT_POLICY_MS);
    })();
  }

  /** The persisted stream of a channel, or undefined when the channel was never stored. */
  load(channel: string): StoredStream | undefined {
    return this.file.use(() => {
      const row = this.stmts.stream.get(channel);
      if (!row) return undefined;
      const publications = this.stmts.publications
        .all(channel)
        .map((pub) => toPublication(channel, row.epoch, pub));
      return { epoch: row.epoch, offset: row.offset, ttlMs: row.ttl_ms ?? undefined, publications };
    });
  }

  /** Records a stream's position, TTL and last use (a new stream, or one leaving memory). */
  saveStream(channel: string, stream: StreamState): void {
    this.positions.set(channel, stream);
    this.schedule();
  }

  /**
   * Queues an appended publication of `stream` (its data already serialised as `json`);
   * `firstKept` is the oldest offset still in history. Resolves once the publication is
   * committed; rejects with `store_unavailable` when its commit failed.
   */
  append(pub: Publication, json: string, stream: StreamState, firstKept: number): Promise<void> {
    this.inserts.push({ pub, json });
    this.positions.set(pub.channel, stream);
    this.trimBelow(pub.channel, firstKept);
    this.pending ??= pendingCommit();
    return this.pending.promise;
  }

  /** True while writes wait for the next commit. */
  get hasPending(): boolean {
    return this.inserts.length > 0 || this.positions.size > 0 || this.trims.size > 0 || this.forgets.size > 0;
  }

  /**
   * Queues deleting a channel's stream and publications. Writes queued for it before are
   * dropped; writes queued after (the channel used again, a new epoch) are committed after it.
   */
  forget(channel: string): void {
    this.positions.delete(channel);
    this.trims.delete(channel);
    if (this.inserts.length > 0) this.inserts = this.inserts.filter((q) => q.pub.channel !== channel);
    this.forgets.add(channel);
    this.schedule();
  }

  /**
   * Deletes, at once, the streams whose `forget_at` passed, except those `inUse` (in memory:
   * the engine decides for them). Returns how many were deleted.
   */
  deleteStale(now: number, inUse: (channel: string) => boolean): number {
    this.flush();
    let skipped = 0;
    let deleted = 0;
    for (;;) {
      const rows = this.file.use(() => this.stmts.stale.all(now, SWEEP_BATCH, skipped));
      const stale = rows.filter((r) => !inUse(r.channel));
      // The skipped rows stay and sort first among the remaining stale ones: page past them.
      skipped += rows.length - stale.length;
      if (stale.length > 0) {
        this.file.write(() =>
          this.db.transaction(() => {
            for (const { channel } of stale) this.drop(channel);
          })(),
        );
      }
      deleted += stale.length;
      if (rows.length < SWEEP_BATCH) return deleted;
    }
  }

  /** Queues deleting a channel's publications older than `firstKept`. */
  trimBelow(channel: string, firstKept: number): void {
    const previous = this.trims.get(channel);
    if (previous === undefined || firstKept > previous) this.trims.set(channel, firstKept);
    this.schedule();
  }

  /**
   * Commits everything queued in one transaction, then resolves the publications waiting for
   * it. On failure it rejects them, reports the channels it touched (`onFailedCommit`) and
   * throws `store_unavailable`.
   */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (!this.hasPending) {
      pending?.resolve();
      return;
    }
    const inserts = this.inserts;
    this.inserts = [];
    const positions = [...this.positions];
    this.positions.clear();
    const trims = [...this.trims];
    this.trims.clear();
    const forgets = [...this.forgets];
    this.forgets.clear();
    try {
      this.file.write(() =>
        this.db.transaction(() => {
          for (const channel of forgets) this.drop(channel);
          for (const [channel, s] of positions) {
            // A new epoch means the old stream's history is gone: never mix two epochs' rows.
            const stored = this.stmts.stream.get(channel);
            if (stored && stored.epoch !== s.epoch) this.stmts.dropChannel.run(channel);
            this.stmts.upsertStream.run(channel, s.epoch, s.offset, s.policy?.ttlMs ?? null, s.forgetAt());
          }
          for (const { pub, json } of inserts) {
            this.stmts.insert.run(
              pub.channel,
              pub.offset ?? 0,
              pub.id,
              json,
              pub.from?.client ?? null,
              pub.from?.user ?? null,
              pub.at,
            );
          }
          for (const [channel, firstKept] of trims) this.stmts.trim.run(channel, firstKept);
        })(),
      );
    } catch (err) {
      const touched = new Set<string>(positions.map(([channel]) => channel));
      for (const { pub } of inserts) touched.add(pub.channel);
      pending?.reject(err);
      this.onFailedCommit?.(touched);
      throw err;
    }
    pending?.resolve();
  }

  /**
   * Commits what is queued and records a clean stop (durably), so the next open keeps every
   * epoch. When the last commit fails, no clean stop is recorded: the next open decides as
   * after a crash.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
      this.file.setMetaDurably({ session: 'closed' });
    } catch (err) {
      this.log?.error({ err, file: this.file.file }, 'channels.db: the last commit failed at close');
    } finally {
      this.file.close();
    }
  }

  private drop(channel: string): void {
    this.stmts.dropStream.run(channel);
    this.stmts.dropChannel.run(channel);
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      try {
        this.flush();
      } catch {
        // Reported: the waiting publications were rejected and the store is not ready.
      }
    });
  }
}

function toPublication(channel: string, epoch: string, row: PublicationRow): Publication {
  const pub: Publication = {
    id: row.id,
    channel,
    data: JSON.parse(row.data),
    at: row.at,
    epoch,
    offset: row.offset,
  };
  if (row.from_client !== null) {
    const from: Origin = { client: row.from_client };
    if (row.from_user !== null) from.user = row.from_user;
    pub.from = from;
  }
  return pub;
}
