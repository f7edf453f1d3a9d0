import Database from 'better-sqlite3';
import type { Origin, Publication, StreamPosition } from '../types.js';

interface PublicationRow {
  offset: number;
  id: string;
  data: string;
  from_client: string | null;
  from_user: string | null;
  at: number;
}

/** A channel stream as persisted: its position and its kept publications in offset order. */
export interface StoredStream extends StreamPosition {
  publications: Publication[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS streams (
  channel TEXT PRIMARY KEY,
  epoch   TEXT NOT NULL,
  offset  INTEGER NOT NULL
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
  private readonly positions = new Map<string, StreamPosition>();
  private readonly trims = new Map<string, number>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.stmts = {
      stream: this.db.prepare<[string], StreamPosition>(
        'SELECT epoch, offset FROM streams WHERE channel = ?',
      ),
      publications: this.db.prepare<[string], PublicationRow>(
        'SELECT offset, id, data, from_client, from_user, at FROM publications WHERE channel = ? ORDER BY offset',
      ),
      upsertStream: this.db.prepare<[string, string, number]>(
        'INSERT INTO streams (channel, epoch, offset) VALUES (?, ?, ?) ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch, offset = excluded.offset',
      ),
      insert: this.db.prepare<[string, number, string, string, string | null, string | null, number]>(
        'INSERT OR REPLACE INTO publications (channel, offset, id, data, from_client, from_user, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      trim: this.db.prepare<[string, number]>('DELETE FROM publications WHERE channel = ? AND offset < ?'),
      dropChannel: this.db.prepare<[string]>('DELETE FROM publications WHERE channel = ?'),
    };
  }

  /** The persisted stream of a channel, or undefined when the channel was never stored. */
  load(channel: string): StoredStream | undefined {
    const position = this.stmts.stream.get(channel);
    if (!position) return undefined;
    const publications = this.stmts.publications
      .all(channel)
      .map((row) => toPublication(channel, position.epoch, row));
    return { epoch: position.epoch, offset: position.offset, publications };
  }

  /** Records a stream's current position (a new stream, or one whose epoch changed). */
  savePosition(channel: string, position: StreamPosition): void {
    this.positions.set(channel, { epoch: position.epoch, offset: position.offset });
    this.schedule();
  }

  /** Queues an appended publication; `firstKept` is the oldest offset still in history. */
  append(pub: Publication, firstKept: number): void {
    this.inserts.push(pub);
    if (pub.epoch !== undefined && pub.offset !== undefined) {
      this.positions.set(pub.channel, { epoch: pub.epoch, offset: pub.offset });
    }
    this.trimBelow(pub.channel, firstKept);
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
    if (this.inserts.length === 0 && this.positions.size === 0 && this.trims.size === 0) return;
    const inserts = this.inserts;
    this.inserts = [];
    const positions = [...this.positions];
    this.positions.clear();
    const trims = [...this.trims];
    this.trims.clear();
    this.db.transaction(() => {
      for (const [channel, p] of positions) {
        // A new epoch means the old stream's history is gone: never mix two epochs' rows.
        const stored = this.stmts.stream.get(channel);
        if (stored && stored.epoch !== p.epoch) this.stmts.dropChannel.run(channel);
        this.stmts.upsertStream.run(channel, p.epoch, p.offset);
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
