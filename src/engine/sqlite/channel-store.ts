import Database from 'better-sqlite3';
import { KEEP_WITHOUT_POLICY_MS } from '../retention.js';
import type { Origin, Publication, StreamPosition } from '../types.js';

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

/**
 * The SQLite file behind the embedded engine's channel history. Writes are queued and
 * committed together once per event-loop turn (one transaction for a burst of publications
 * instead of one fsync each); `flush()` commits at once and `close()` flushes first, so a
 * graceful stop loses nothing. WAL mode keeps commits cheap.
 */
export class ChannelStore {
  private readonly db: Database.Database;
  private readonly stmts;
  private inserts: Publication[] = [];
  private readonly positions = new Map<string, StreamState>();
  private readonly trims = new Map<string, number>();
  private readonly forgets = new Set<string>();
  private scheduled: NodeJS.Immediate | undefined;

  /** `now` stamps the empty streams of a file older than `forget_at` (see migrate). */
  constructor(file: string, now = Date.now()) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.migrate(now);
    this.db.exec(INDEXES);
    this.stmts = {
      stream: this.db.prepare<[string], StreamRow>(
        'SELECT epoch, offset, ttl_ms FROM streams WHERE channel = ?',
      ),
      publications: this.db.prepare<[string], PublicationRow>(
        'SELECT offset, id, data, from_client, from_user, at FROM publications WHERE channel = ? ORDER BY offset',
      ),
      upsertStream: this.db.prepare<[string, string, number, number | null, number]>(
        `INSERT INTO streams (channel, epoch, offset, ttl_ms, forget_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch, offset = excluded.offset,
           ttl_ms = excluded.ttl_ms, forget_at = excluded.forget_at`,
      ),
      insert: this.db.prepare<[string, number, string, string, string | null, string | null, number]>(
        'INSERT OR REPLACE INTO publications (channel, offset, id, data, from_client, from_user, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      trim: this.db.prepare<[string, number]>('DELETE FROM publications WHERE channel = ? AND offset < ?'),
      dropChannel: this.db.prepare<[string]>('DELETE FROM publications WHERE channel = ?'),
      dropStream: this.db.prepare<[string]>('DELETE FROM streams WHERE channel = ?'),
      stale: this.db.prepare<[number, number, number], { channel: string }>(
        'SELECT channel FROM streams WHERE forget_at < ? ORDER BY forget_at LIMIT ? OFFSET ?',
      ),
    };
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
    const row = this.stmts.stream.get(channel);
    if (!row) return undefined;
    const publications = this.stmts.publications
      .all(channel)
      .map((pub) => toPublication(channel, row.epoch, pub));
    return { epoch: row.epoch, offset: row.offset, ttlMs: row.ttl_ms ?? undefined, publications };
  }

  /** Records a stream's position, TTL and last use (a new stream, or one leaving memory). */
  saveStream(channel: string, stream: StreamState): void {
    this.positions.set(channel, stream);
    this.schedule();
  }

  /** Queues an appended publication of `stream`; `firstKept` is the oldest offset still in history. */
  append(pub: Publication, stream: StreamState, firstKept: number): void {
    this.inserts.push(pub);
    this.positions.set(pub.channel, stream);
    this.trimBelow(pub.channel, firstKept);
  }

  /**
   * Queues deleting a channel's stream and publications. Writes queued for it before are
   * dropped; writes queued after (the channel used again, a new epoch) are committed after it.
   */
  forget(channel: string): void {
    this.positions.delete(channel);
    this.trims.delete(channel);
    if (this.inserts.length > 0) this.inserts = this.inserts.filter((p) => p.channel !== channel);
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
      const rows = this.stmts.stale.all(now, SWEEP_BATCH, skipped);
      const stale = rows.filter((r) => !inUse(r.channel));
      // The skipped rows stay and sort first among the remaining stale ones: page past them.
      skipped += rows.length - stale.length;
      this.db.transaction(() => {
        for (const { channel } of stale) this.drop(channel);
      })();
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

  /** Commits everything queued in one transaction. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (
      this.inserts.length === 0 &&
      this.positions.size === 0 &&
      this.trims.size === 0 &&
      this.forgets.size === 0
    )
      return;
    const inserts = this.inserts;
    this.inserts = [];
    const positions = [...this.positions];
    this.positions.clear();
    const trims = [...this.trims];
    this.trims.clear();
    const forgets = [...this.forgets];
    this.forgets.clear();
    this.db.transaction(() => {
      for (const channel of forgets) this.drop(channel);
      for (const [channel, s] of positions) {
        // A new epoch means the old stream's history is gone: never mix two epochs' rows.
        const stored = this.stmts.stream.get(channel);
        if (stored && stored.epoch !== s.epoch) this.stmts.dropChannel.run(channel);
        this.stmts.upsertStream.run(channel, s.epoch, s.offset, s.policy?.ttlMs ?? null, s.forgetAt());
      }
      for (const pub of inserts) {
        this.stmts.insert.run(
          pub.channel,
          pub.offset ?? 0,
          pub.id,
          JSON.stringify(pub.data),
          pub.from?.client ?? null,
          pub.from?.user ?? null,
          pub.at,
        );
      }
      for (const [channel, firstKept] of trims) this.stmts.trim.run(channel, firstKept);
    })();
  }

  close(): void {
    this.flush();
    this.db.close();
  }

  private drop(channel: string): void {
    this.stmts.dropStream.run(channel);
    this.stmts.dropChannel.run(channel);
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.flush();
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
