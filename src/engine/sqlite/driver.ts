import { createRequire } from 'node:module';

/**
 * The SQLite driver seam: the little of a SQLite binding that wirehub's embedded stores use
 * (`SqliteFile`, `ChannelStore`, `SqliteRunStore`), with two implementations chosen at run time:
 * better-sqlite3 on Node, `bun:sqlite` under Bun (where better-sqlite3 does not load).
 *
 * Both behave alike where the stores can tell: `get` gives `undefined` for no row, named
 * parameters (`@name`) bind from an object's keys without the prefix, a busy file is waited on
 * for 5 s, `transaction(fn)` returns a function running `fn` in BEGIN…COMMIT (ROLLBACK when it
 * throws), and a SQLite failure carries SQLite's extended result code (`SQLITE_FULL`,
 * `SQLITE_CORRUPT`, …), read with `sqliteErrorCode`.
 *
 * The binding is loaded with `require` from a `createRequire` (not a static import) so that
 * Node never resolves `bun:sqlite` and Bun never loads better-sqlite3; it is synchronous
 * because the stores open their files in constructors.
 */

/** A prepared statement. `P` are its parameters (positional, or one object for `@name`s), `R` a row. */
export interface SqliteStatement<P extends unknown[] = unknown[], R = unknown> {
  run(...params: P): { changes: number };
  /** The first row, or `undefined` when there is none. */
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/**
 * A function made by `transaction`: calling it runs in `BEGIN` (deferred); `immediate` takes the
 * write lock at once (so a read-then-write cannot interleave with another process's write).
 */
export interface SqliteTransaction<A extends unknown[], T> {
  (...args: A): T;
  immediate(...args: A): T;
}

/** An open SQLite database. */
export interface SqliteDatabase {
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqliteStatement<P, R>;
  /** Runs one or more statements without results (schema, migrations). */
  exec(sql: string): unknown;
  /**
   * Runs `PRAGMA <source>`: its rows, or with `simple` the first column of the first row.
   * @example `db.pragma('user_version', { simple: true }) // 2`
   */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  /** Wraps `fn` so that each call runs in one transaction (nested calls use savepoints). */
  transaction<A extends unknown[], T>(fn: (...args: A) => T): SqliteTransaction<A, T>;
  close(): unknown;
}

/** Which binding `openSqlite` uses in this process. */
export type SqliteDriverName = 'better-sqlite3' | 'bun:sqlite';

/** How `openSqlite` opens a file. */
export interface OpenSqliteOptions {
  /** Read only (another connection's view of a store's file, in tools and tests). */
  readonly?: boolean | undefined;
}

interface SqliteDriver {
  name: SqliteDriverName;
  open(file: string, options: OpenSqliteOptions): SqliteDatabase;
  errorCode(err: unknown): string | undefined;
}

/** How long a statement waits for a lock held by another connection (better-sqlite3's default). */
const BUSY_TIMEOUT_MS = 5_000;

const requireHere = createRequire(import.meta.url);

/** True when this process runs under Bun. */
export function isBun(): boolean {
  return typeof process.versions.bun === 'string';
}

// --- better-sqlite3 (Node) ---------------------------------------------------------------

interface BetterSqlite3Module {
  new (file: string, options: { readonly: boolean }): SqliteDatabase;
  SqliteError: new (...args: never[]) => Error & { code: string };
}

function betterSqlite3Driver(): SqliteDriver {
  const Database = requireHere('better-sqlite3') as BetterSqlite3Module;
  return {
    name: 'better-sqlite3',
    // Its own API is a superset of the seam: no wrapper, no cost per statement.
    open: (file, options) => new Database(file, { readonly: options.readonly === true }),
    errorCode: (err) => (err instanceof Database.SqliteError ? err.code : undefined),
  };
}

// --- bun:sqlite (Bun) ----------------------------------------------------------------------

/** The bits of `bun:sqlite` used here (its types come with Bun, not with this build). */
interface BunStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  finalize(): void;
}
interface BunDatabase {
  prepare(sql: string): BunStatement;
  query(sql: string): BunStatement;
  exec(sql: string): unknown;
  transaction<A extends unknown[], T>(fn: (...args: A) => T): SqliteTransaction<A, T>;
  close(): void;
}
interface BunSqliteModule {
  Database: new (
    file: string,
    options: { strict: boolean; readonly?: boolean; readwrite?: boolean; create?: boolean },
  ) => BunDatabase;
  SQLiteError: new (...args: never[]) => Error & { code?: string };
}

class BunSqliteStatement<P extends unknown[], R> implements SqliteStatement<P, R> {
  constructor(private readonly stmt: BunStatement) {}
  run(...params: P): { changes: number } {
    return this.stmt.run(...params);
  }
  get(...params: P): R | undefined {
    // bun:sqlite says "no row" with null; the stores (and better-sqlite3) use undefined.
    return (this.stmt.get(...params) ?? undefined) as R | undefined;
  }
  all(...params: P): R[] {
    return this.stmt.all(...params) as R[];
  }
}

class BunSqliteDatabase implements SqliteDatabase {
  /**
   * Every statement prepared on this connection, finalized on `close`: bun:sqlite closes with
   * `sqlite3_close_v2`, which leaves a connection with live statements open (a "zombie") until
   * they are garbage-collected, so its WAL is neither checkpointed into the file nor removed.
   * better-sqlite3 finalizes its statements on close; this does the same.
   */
  private readonly statements = new Set<BunStatement>();
  constructor(private readonly db: BunDatabase) {}
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqliteStatement<P, R> {
    const stmt = this.db.prepare(sql);
    this.statements.add(stmt);
    return new BunSqliteStatement<P, R>(stmt);
  }
  exec(sql: string): unknown {
    return this.db.exec(sql);
  }
  pragma(source: string, options?: { simple?: boolean }): unknown {
    const stmt = this.db.prepare(`PRAGMA ${source}`);
    try {
      if (!options?.simple) return stmt.all();
      const row = stmt.get() as Record<string, unknown> | null;
      return row === null ? undefined : Object.values(row)[0];
    } finally {
      stmt.finalize();
    }
  }
  transaction<A extends unknown[], T>(fn: (...args: A) => T): SqliteTransaction<A, T> {
    return this.db.transaction(fn);
  }
  close(): void {
    for (const stmt of this.statements) stmt.finalize();
    this.statements.clear();
    this.db.close();
  }
}

function bunSqliteDriver(): SqliteDriver {
  const { Database, SQLiteError } = requireHere('bun:sqlite') as BunSqliteModule;
  return {
    name: 'bun:sqlite',
    open: (file, options) => {
      // strict: `@name` binds from `{ name }` as in better-sqlite3, and a missing one throws.
      const mode = options.readonly ? { readonly: true } : { readwrite: true, create: true };
      const db = new BunSqliteDatabase(new Database(file, { strict: true, ...mode }));
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      return db;
    },
    errorCode: (err) => (err instanceof SQLiteError && typeof err.code === 'string' ? err.code : undefined),
  };
}

// --- the choice --------------------------------------------------------------------------------

let driver: SqliteDriver | undefined;

function current(): SqliteDriver {
  driver ??= isBun() ? bunSqliteDriver() : betterSqlite3Driver();
  return driver;
}

/** The binding this process uses: `bun:sqlite` under Bun, better-sqlite3 elsewhere. */
export function sqliteDriverName(): SqliteDriverName {
  return current().name;
}

/**
 * Opens (creating when missing) a SQLite file with this runtime's binding.
 *
 * @example
 * ```ts
 * const db = openSqlite(':memory:');
 * db.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)');
 * db.prepare<[string, string]>('INSERT INTO kv VALUES (?, ?)').run('a', '1');
 * db.prepare<[string], { v: string }>('SELECT v FROM kv WHERE k = ?').get('a'); // { v: '1' }
 * ```
 */
export function openSqlite(file: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  return current().open(file, options);
}

/** SQLite's result code of a failure of this runtime's binding (`SQLITE_BUSY`, …), else undefined. */
export function sqliteErrorCode(err: unknown): string | undefined {
  return current().errorCode(err);
}
