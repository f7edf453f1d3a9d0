import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { WirehubError } from '../../protocol/index.js';
import { type Logger, silentLogger } from '../../util/logger.js';
import { StoreHealth } from '../store-health.js';
import { openSqlite, type SqliteDatabase, sqliteErrorCode } from './driver.js';
import type { SqliteSync } from './sync-mode.js';

export type { SqliteSync } from './sync-mode.js';

export interface SqliteFileOptions {
  /** The database file; its folder is created when missing. `:memory:` for tests. */
  file: string;
  /** The store's name in metrics and messages: `channels`, `runs`. */
  store: string;
  /** What an emptied file loses, for the advice of a damaged-file error: `channel history`. */
  contents: string;
  sync?: SqliteSync | undefined;
  /** While the store fails, how often a tiny write checks whether it works again. Default 1 s. */
  probeEveryMs?: number | undefined;
  log?: Logger | undefined;
}

/** Extra rows a store keeps about itself (schema-free; see `ChannelStore` for its keys). */
const META_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/** SQLite's verdicts that the file itself is damaged (not a full disk or a lock). */
function isDamage(code: string): boolean {
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB';
}

function sqliteCode(err: unknown): string | undefined {
  return sqliteErrorCode(err);
}

/**
 * One SQLite file of a wirehub store (`channels.db`, `runs.db`), opened the same way for
 * both: WAL mode, the chosen `synchronous`, and an integrity check before anything is served.
 *
 * The check is `PRAGMA quick_check`: it reads every page and verifies the b-trees (what a
 * damaged page breaks), skipping only the index-versus-table cross-check of `integrity_check`.
 * It costs about 0.3-0.45 s per 100 MB (measured on a 100 MB channels.db); a cheaper probe
 * (the header, the schema) would not see a damaged page in the middle of the file, which is
 * what a torn write or a bad disk leaves behind. A damaged file stops the start with an
 * error naming it and saying what to do.
 *
 * At run time every read and write goes through `use`/`write`: a SQLite failure is counted
 * and makes the store not ready (`health`); it is ready again once a probe write commits
 * (tried after each write that succeeds, and every `probeEveryMs`), except for a damaged
 * file, which stays not ready.
 *
 * @example
 * ```ts
 * const f = new SqliteFile({ file: './.wirehub/runs.db', store: 'runs', contents: 'run records' });
 * const n = f.use(() => f.db.prepare('SELECT count(*) AS n FROM meta').get());
 * f.write(() => f.db.prepare("INSERT INTO meta VALUES ('k', 'v')").run());
 * f.close();
 * ```
 */
export class SqliteFile {
  readonly db: SqliteDatabase;
  readonly health: StoreHealth;
  readonly sync: SqliteSync;
  private readonly log: Logger;
  private readonly probeEveryMs: number;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly metaGet;
  private readonly metaSet;

  constructor(private readonly options: SqliteFileOptions) {
    const { file } = options;
    this.sync = options.sync ?? 'normal';
    this.log = options.log ?? silentLogger;
    this.probeEveryMs = options.probeEveryMs ?? 1_000;
    this.health = new StoreHealth(options.store, basename(file));
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    let db: SqliteDatabase | undefined;
    try {
      db = openSqlite(file);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.sync}`);
      const verdict = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
      if (verdict[0] !== 'ok') throw this.damagedError(`quick_check: ${verdict.slice(0, 3).join('; ')}`);
      db.exec(META_SCHEMA);
    } catch (err) {
      db?.close();
      throw this.openError(err);
    }
    this.db = db;
    this.metaGet = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.metaSet = db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  get file(): string {
    return this.options.file;
  }

  /**
   * Runs a read (or a write whose success says nothing yet). A SQLite failure is counted,
   * makes the store not ready and is thrown as `store_unavailable`; other errors pass as they are.
   */
  use<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.failed(err);
    }
  }

  /**
   * Runs a write. After a failure, a write that succeeds makes the store check at once
   * whether it is ready again (a probe write that surely changes the file: a write that
   * changed nothing, or a refused update, proves nothing).
   */
  write<T>(fn: () => T): T {
    const result = this.use(fn);
    if (this.health.problem !== undefined) this.probe();
    return result;
  }

  /**
   * Records a failure of this store (see `use`) and returns what to throw: `store_unavailable`
   * for a SQLite failure, the error itself otherwise.
   */
  failed(err: unknown): unknown {
    const code = sqliteCode(err);
    if (code === undefined) return err;
    const damaged = isDamage(code);
    const wasHealthy = this.health.problem === undefined;
    this.health.failed(err, damaged);
    if (wasHealthy)
      this.log.error(
        { err, file: this.file, store: this.options.store },
        `the ${this.options.store} store failed`,
      );
    if (!damaged) this.startProbing();
    return new WirehubError(
      'store_unavailable',
      `the ${this.options.store} store could not ${damaged ? 'read or write its file (damaged)' : 'complete this'} (${code}); try again later`,
    );
  }

  /** A value of the `meta` table. */
  meta(key: string): string | undefined {
    return this.use(() => this.metaGet.get(key)?.value);
  }

  /**
   * Writes `meta` values in one transaction synced to disk whatever `sync` says, so a marker
   * that later decisions rely on (see `ChannelStore`) survives a power loss.
   */
  setMetaDurably(values: Record<string, string>): void {
    this.write(() => {
      this.db.pragma('synchronous = FULL');
      try {
        this.db.transaction(() => {
          for (const [key, value] of Object.entries(values)) this.metaSet.run(key, value);
        })();
      } finally {
        this.db.pragma(`synchronous = ${this.sync}`);
      }
    });
  }

  close(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.db.close();
  }

  /** A tiny write of the `meta` table; once one commits, the store is ready again (unless damaged). */
  private probe(): void {
    if (this.health.problem === undefined || this.health.damaged) return;
    try {
      this.metaSet.run('probe', String(Date.now()));
    } catch {
      return; // still failing: not counted again, the next probe tries
    }
    this.health.committed();
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.log.info(
      { file: this.file, store: this.options.store },
      `the ${this.options.store} store works again`,
    );
  }

  /** While failing (not damaged): a probe now and then, so readiness comes back without traffic. */
  private startProbing(): void {
    if (this.probeTimer || this.probeEveryMs <= 0) return;
    this.probeTimer = setInterval(() => this.probe(), this.probeEveryMs);
    this.probeTimer.unref();
  }

  private damagedError(detail: string): Error {
    const { file, contents } = this.options;
    return new Error(
      `${file} is damaged (${detail}). Stop wirehub, then restore ${basename(file)} from a backup, or move it (with its -wal and -shm files) aside to start with no ${contents}; the sqlite3 shell's .recover command can salvage what is still readable.`,
    );
  }

  /**
   * What to throw when the owner's setup of the file (schema, migrations, markers) failed:
   * an error that names the file, and closes it.
   */
  setupFailed(err: unknown): Error {
    this.close();
    if (err instanceof WirehubError) return new Error(`cannot open ${this.options.file}: ${err.message}`);
    return this.openError(err);
  }

  /** An error of the open that names the file and says what to do. */
  private openError(err: unknown): Error {
    const code = sqliteCode(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === undefined) return err instanceof Error ? err : new Error(message);
    if (code === 'SQLITE_NOTADB')
      return this.damagedError(`not a SQLite database, or its header is damaged: ${code}: ${message}`);
    if (isDamage(code)) return this.damagedError(`${code}: ${message}`);
    return new Error(`cannot open ${this.options.file}: ${code}: ${message}`);
  }
}
