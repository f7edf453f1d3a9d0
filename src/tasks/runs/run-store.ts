import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { PatternPieces } from '../../hub/permissions.js';
import type { RunError, RunRecord, RunStatus, RunUpdate } from './types.js';

/** 2: `owner` (who started the run) and `quota_key` (the limit slot it holds while active). */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  domain TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  inputs TEXT NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  progress REAL,
  attempt INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  outputs TEXT,
  error TEXT,
  seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  owner TEXT,
  quota_key TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at DESC);
CREATE TABLE IF NOT EXISTS run_updates (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  progress REAL,
  outputs TEXT,
  error TEXT,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
`;

/** Columns added after schema 1, with their types: added to older files on open. */
const ADDED_COLUMNS: readonly [string, string][] = [
  ['owner', 'TEXT'],
  ['quota_key', 'TEXT'],
];

const INDEXES_V2 = 'CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created_at DESC);';

interface RunRow {
  id: string;
  project: string;
  domain: string;
  name: string;
  version: string;
  inputs: string;
  status: RunStatus;
  message: string;
  progress: number | null;
  attempt: number;
  max_attempts: number;
  outputs: string | null;
  error: string | null;
  seq: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  owner: string | null;
  quota_key: string | null;
}

interface UpdateRow {
  run_id: string;
  seq: number;
  at: number;
  status: RunStatus;
  message: string;
  progress: number | null;
  outputs: string | null;
  error: string | null;
}

/** A new run, before its first update. */
export type NewRun = Pick<
  RunRecord,
  'run_id' | 'project' | 'domain' | 'task' | 'version' | 'inputs' | 'max_attempts' | 'attempt' | 'user'
> & {
  /** The limit-store key of the per-user slot the run holds while it is active. */
  quotaKey?: string;
};

/** A run that had not ended, with the per-user slot it held (re-taken after a restart). */
export type ActiveRun = RunRecord & { quotaKey?: string };

/** Which runs `list` returns, newest first. */
export interface RunListQuery {
  status?: RunStatus;
  limit: number;
  /**
   * Only runs of tasks (`project/domain/name`) matching one of these patterns, given as the
   * literal pieces between `*` wildcards (see `Permissions.patterns`). Absent: every task.
   */
  tasks?: readonly PatternPieces[];
  /** Only runs this user started. */
  user?: string;
}

/** SQLite GLOB is case-sensitive like the grant matcher; `*`, `?` and `[` are made literal. */
function globOf(pieces: PatternPieces): string {
  return pieces.map((piece) => piece.replace(/[*?[]/g, (c) => `[${c}]`)).join('*');
}

/** What an update changes on its run besides status, message and seq. */
export interface RunChanges {
  attempt?: number;
  started?: boolean;
  ended?: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function toRecord(row: RunRow): RunRecord {
  const record: RunRecord = {
    run_id: row.id,
    project: row.project,
    domain: row.domain,
    task: row.name,
    version: row.version,
    inputs: JSON.parse(row.inputs) as unknown,
    status: row.status,
    message: row.message,
    attempt: row.attempt,
    max_attempts: row.max_attempts,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    seq: row.seq,
  };
  if (row.progress !== null) record.progress = row.progress;
  if (row.started_at !== null) record.started_at = iso(row.started_at);
  if (row.ended_at !== null) record.ended_at = iso(row.ended_at);
  if (row.outputs !== null) record.outputs = JSON.parse(row.outputs) as unknown;
  if (row.error !== null) record.error = JSON.parse(row.error) as RunError;
  if (row.owner !== null) record.user = row.owner;
  return record;
}

function toUpdate(row: UpdateRow): RunUpdate {
  const update: RunUpdate = {
    run_id: row.run_id,
    seq: row.seq,
    status: row.status,
    message: row.message,
    at: iso(row.at),
  };
  if (row.progress !== null) update.progress = row.progress;
  if (row.outputs !== null) update.outputs = JSON.parse(row.outputs) as unknown;
  if (row.error !== null) update.error = JSON.parse(row.error) as RunError;
  return update;
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/**
 * Runs and their updates in SQLite (`<dataDir>/runs.db`). Every update is written in one
 * transaction with the run's new state, in WAL mode, so a crash (even `kill -9`) loses
 * nothing already reported to a client: updates are stored before they are published.
 *
 * @example
 * ```ts
 * const store = new RunStore('./.wirehub/runs.db');
 * const active = store.listActive();
 * ```
 */
export class RunStore {
  private db: Database.Database | undefined;
  private stmts: ReturnType<RunStore['prepare']> | undefined;
  /** `list` statements by SQL text: bounded, as the text depends only on the query's shape. */
  private readonly listStatements = new Map<string, Database.Statement<unknown[], RunRow>>();

  /** Nothing is opened until `open()`, so creating a server touches no file. */
  constructor(readonly file: string) {}

  /** Opens (and creates or migrates) the database. Idempotent. */
  open(): void {
    if (this.db) return;
    if (this.file !== ':memory:') mkdirSync(dirname(this.file), { recursive: true });
    const db = new Database(this.file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`${this.file} was written by a newer wirehub (schema ${version}); upgrade wirehub`);
      }
      db.exec(SCHEMA);
      const columns = new Set((db.pragma('table_info(runs)') as { name: string }[]).map((c) => c.name));
      for (const [name, type] of ADDED_COLUMNS) {
        if (!columns.has(name)) db.exec(`ALTER TABLE runs ADD COLUMN ${name} ${type}`);
      }
      db.exec(INDEXES_V2);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      this.stmts = this.prepare(db);
      this.db = db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private prepare(db: Database.Database) {
    const insertUpdate = db.prepare(
      `INSERT INTO run_updates (run_id, seq, at, status, message, progress, outputs, error)
       VALUES (@run_id, @seq, @at, @status, @message, @progress, @outputs, @error)`,
    );
    const updateRun = db.prepare(
      `UPDATE runs SET status = @status, message = @message, seq = @seq, updated_at = @at,
         progress = COALESCE(@progress, progress),
         attempt = COALESCE(@attempt, attempt),
         outputs = COALESCE(@outputs, outputs),
         error = COALESCE(@error, error),
         started_at = CASE WHEN @started = 1 AND started_at IS NULL THEN @at ELSE started_at END,
         ended_at = CASE WHEN @ended = 1 THEN @at ELSE ended_at END
       WHERE id = @run_id`,
    );
    return {
      insertRun: db.prepare(
        `INSERT INTO runs (id, project, domain, name, version, inputs, status, message, attempt, max_attempts, seq, created_at, updated_at, owner, quota_key)
         VALUES (@id, @project, @domain, @name, @version, @inputs, 'QUEUED', '', @attempt, @max_attempts, 0, @now, @now, @owner, @quota_key)`,
      ),
      append: db.transaction((row: Record<string, unknown>, run: Record<string, unknown>) => {
        insertUpdate.run(row);
        updateRun.run(run);
      }),
      getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
      updates: db.prepare<[string, number, number], UpdateRow>(
        'SELECT * FROM run_updates WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      active: db.prepare<[], RunRow>(
        `SELECT * FROM runs WHERE status IN ('QUEUED', 'INITIALIZING', 'RUNNING') ORDER BY created_at, rowid`,
      ),
    };
  }

  private get s(): NonNullable<RunStore['stmts']> {
    if (!this.stmts) throw new Error('the run store is not open');
    return this.stmts;
  }

  /** Creates a run (status QUEUED, no updates yet). */
  createRun(run: NewRun, now = Date.now()): void {
    this.s.insertRun.run({
      id: run.run_id,
      project: run.project,
      domain: run.domain,
      name: run.task,
      version: run.version,
      inputs: JSON.stringify(run.inputs),
      attempt: run.attempt,
      max_attempts: run.max_attempts,
      now,
      owner: run.user ?? null,
      quota_key: run.quotaKey ?? null,
    });
  }

  /** Appends an update and applies it to its run, in one transaction. */
  appendUpdate(update: RunUpdate, changes: RunChanges): void {
    const row = {
      run_id: update.run_id,
      seq: update.seq,
      at: Date.parse(update.at),
      status: update.status,
      message: update.message,
      progress: update.progress ?? null,
      outputs: json(update.outputs),
      error: json(update.error),
    };
    this.s.append(row, {
      ...row,
      attempt: changes.attempt ?? null,
      started: changes.started ? 1 : 0,
      ended: changes.ended ? 1 : 0,
    });
  }

  getRun(runId: string): RunRecord | undefined {
    const row = this.s.getRun.get(runId);
    return row ? toRecord(row) : undefined;
  }

  /** A run's updates after `afterSeq`, oldest first. */
  updates(runId: string, afterSeq = 0, limit = 100_000): RunUpdate[] {
    return this.s.updates.all(runId, afterSeq, limit).map(toUpdate);
  }

  /**
   * Newest runs first: optionally only those in one status, of some tasks, or of one user.
   * The filters run in SQL, so a caller who may see few runs does not page through the rest.
   */
  list(query: RunListQuery): RunRecord[] {
    if (query.tasks?.length === 0) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.status !== undefined) {
      where.push('status = ?');
      params.push(query.status);
    }
    if (query.user !== undefined) {
      where.push('owner = ?');
      params.push(query.user);
    }
    if (query.tasks !== undefined) {
      where.push(
        `(${query.tasks.map(() => "(project || '/' || domain || '/' || name) GLOB ?").join(' OR ')})`,
      );
      params.push(...query.tasks.map(globOf));
    }
    const sql = `SELECT * FROM runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    params.push(query.limit);
    return this.listStatement(sql)
      .all(...params)
      .map(toRecord);
  }

  /** Runs that had not ended, oldest first (used after a restart), with the slot each held. */
  listActive(): ActiveRun[] {
    return this.s.active.all().map((row) => {
      const record: ActiveRun = toRecord(row);
      if (row.quota_key !== null) record.quotaKey = row.quota_key;
      return record;
    });
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
    this.listStatements.clear();
  }

  private listStatement(sql: string): Database.Statement<unknown[], RunRow> {
    let stmt = this.listStatements.get(sql);
    if (!stmt) {
      if (!this.db) throw new Error('the run store is not open');
      stmt = this.db.prepare<unknown[], RunRow>(sql);
      this.listStatements.set(sql, stmt);
    }
    return stmt;
  }
}
