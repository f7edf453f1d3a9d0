import type { SqliteDatabase, SqliteStatement } from '../../engine/sqlite/driver.js';
import { SqliteFile, type SqliteSync } from '../../engine/sqlite/sqlite-file.js';
import type { StoreHealth } from '../../engine/store-health.js';
import type { PatternPieces } from '../../hub/permissions.js';
import type { Logger } from '../../util/logger.js';
import { startPruning } from './prune-timer.js';
import {
  type ActiveRun,
  type ApplyResult,
  DEFAULT_RUN_RETENTION_MS,
  MAX_UPDATES,
  type NewRun,
  pruneIntervalMs,
  type RunChange,
  type RunListQuery,
  type RunQuota,
  type RunStore,
  refusal,
  tooManyRuns,
  updateBody,
} from './run-store.js';
import { isTerminal } from './state-machine.js';
import { isoTime, runRecordOf, type StoredRun } from './stored-run.js';
import { RUN_STATUSES, type RunError, type RunRecord, type RunStatus, type RunUpdate } from './types.js';

/**
 * 2: `owner` (who started the run) and `quota_key` (the limit it counts against while active).
 * 3: `external` (JSON of the engine's run, e.g. a Flyte run's id, for re-attaching after a restart).
 */
const SCHEMA_VERSION = 3;

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
  quota_key TEXT,
  external TEXT
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
  ['external', 'TEXT'],
];

const INDEXES_V2 = `
CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created_at DESC);
CREATE INDEX IF NOT EXISTS runs_by_quota ON runs (quota_key, status) WHERE quota_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_by_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
`;

export interface SqliteRunStoreOptions {
  /** How long an ended run (record and updates) is kept. Default 7 days. */
  retentionMs?: number;
  /**
   * How often the store prunes by itself, first on open. Default hourly (every `retentionMs`
   * when shorter); 0: never, call `prune()`.
   */
  pruneEveryMs?: number;
  /** Most runs one prune statement deletes (their updates go with them). Default 1000. */
  pruneBatch?: number;
  /** What a stored update survives (see `SqliteSync`). Default `normal`: a crash of the process. */
  sync?: SqliteSync;
  /** While the file fails, how often a probe write checks whether it works again. Default 1 s. */
  probeEveryMs?: number;
  log?: Logger;
}

/** The statuses of runs in progress as an SQL list, generated from the one list of statuses. */
const ACTIVE_SQL = `(${RUN_STATUSES.filter((status) => !isTerminal(status))
  .map((status) => `'${status}'`)
  .join(', ')})`;

/** A row of `runs`: the stored run, and the key its owner's quota counts under. */
interface RunRow extends StoredRun {
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

function toUpdate(row: UpdateRow): RunUpdate {
  const update: RunUpdate = {
    run_id: row.run_id,
    seq: row.seq,
    status: row.status,
    message: row.message,
    at: isoTime(row.at),
  };
  if (row.progress !== null) update.progress = row.progress;
  if (row.outputs !== null) update.outputs = JSON.parse(row.outputs) as unknown;
  if (row.error !== null) update.error = JSON.parse(row.error) as RunError;
  return update;
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/** SQLite GLOB is case-sensitive like the grant matcher; `*`, `?` and `[` are made literal. */
function globOf(pieces: PatternPieces): string {
  return pieces.map((piece) => piece.replace(/[*?[]/g, (c) => `[${c}]`)).join('*');
}

/**
 * Runs and their updates in SQLite (`<dataDir>/runs.db`): the store of a single node. Every
 * change is checked and written in one transaction with the run's new state, in WAL mode,
 * so a crash of the process (even `kill -9`) loses nothing already reported to a client:
 * updates are stored before they are published (with `sync: 'full'` a power loss neither).
 * The file is checked when it opens (a damaged one stops the start, naming it); a read or
 * write that fails at run time answers `store_unavailable` and makes the store not ready
 * (`health`) until a write succeeds.
 *
 * Ended runs are deleted `retentionMs` after they end: on open, then periodically (hourly,
 * or every `retentionMs` when shorter), in batches of `pruneBatch` runs.
 *
 * @example
 * ```ts
 * const store = new SqliteRunStore('./.wirehub/runs.db', { retentionMs: 24 * 60 * 60 * 1000 });
 * await store.open();
 * const active = await store.listActive();
 * ```
 */
export class SqliteRunStore implements RunStore {
  readonly kind = 'sqlite';
  private sqlite: SqliteFile | undefined;
  private stmts: ReturnType<SqliteRunStore['prepare']> | undefined;
  /** `list` statements by SQL text: bounded, as the text depends only on the query's shape. */
  private readonly listStatements = new Map<string, SqliteStatement<unknown[], RunRow>>();

  private readonly retentionMs: number;
  private readonly pruneBatch: number;
  private readonly pruneEveryMs: number;
  private stopPruning: (() => void) | undefined;

  /** Nothing is opened until `open()`, so creating a server touches no file. */
  constructor(
    readonly file: string,
    private readonly options: SqliteRunStoreOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? DEFAULT_RUN_RETENTION_MS;
    this.pruneBatch = options.pruneBatch ?? 1000;
    this.pruneEveryMs = pruneIntervalMs(this.retentionMs, options.pruneEveryMs);
  }

  /** The health of runs.db (readiness, `/metrics`) while it is open. */
  get health(): StoreHealth | undefined {
    return this.sqlite?.health;
  }

  /**
   * Opens the file: a damaged one (see `SqliteFile`) stops here with an error that names it.
   */
  async open(): Promise<void> {
    this.openSync();
  }

  private openSync(): void {
    if (this.sqlite) return;
    const sqlite = new SqliteFile({
      file: this.file,
      store: 'runs',
      contents: 'run records',
      sync: this.options.sync,
      probeEveryMs: this.options.probeEveryMs,
      log: this.options.log,
    });
    const db = sqlite.db;
    try {
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
      this.sqlite = sqlite;
    } catch (err) {
      throw sqlite.setupFailed(err);
    }
    this.stopPruning = startPruning(() => this.prune(), this.pruneEveryMs);
  }

  private prepare(db: SqliteDatabase) {
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
    const insertRun = db.prepare(
      `INSERT INTO runs (id, project, domain, name, version, inputs, status, message, attempt, max_attempts, seq, created_at, updated_at, owner, quota_key, external)
       VALUES (@id, @project, @domain, @name, @version, @inputs, 'QUEUED', @message, @attempt, @max_attempts, 1, @now, @now, @owner, @quota_key, @external)`,
    );
    const state = db.prepare<[string], { status: RunStatus; seq: number; attempt: number }>(
      'SELECT status, seq, attempt FROM runs WHERE id = ?',
    );
    const countActive = db.prepare<[string], { n: number }>(
      `SELECT COUNT(*) AS n FROM runs WHERE quota_key = ? AND status IN ${ACTIVE_SQL}`,
    );
    return {
      countActive,
      // One transaction: the count and the insert cannot interleave with another create.
      create: db.transaction(
        (run: Record<string, unknown>, first: Record<string, unknown>, quota?: RunQuota) => {
          if (quota && (countActive.get(quota.key)?.n ?? 0) >= quota.max) throw tooManyRuns(quota);
          insertRun.run(run);
          insertUpdate.run(first);
        },
      ),
      apply: db.transaction((runId: string, change: RunChange, now: number): ApplyResult => {
        const cur = state.get(runId);
        if (!cur) return { applied: false, reason: 'unknown_run' };
        const refused = refusal(cur, change);
        if (refused) return refused;
        const at = new Date(now).toISOString();
        const update = { run_id: runId, seq: cur.seq + 1, ...updateBody(change, at) } as RunUpdate;
        const row = {
          run_id: runId,
          seq: update.seq,
          at: now,
          status: change.status,
          message: change.message,
          progress: change.progress ?? null,
          outputs: json(change.outputs),
          error: json(change.error),
        };
        insertUpdate.run(row);
        updateRun.run({
          ...row,
          attempt: change.attempt ?? null,
          started: change.status === 'RUNNING' ? 1 : 0,
          ended: isTerminal(change.status) ? 1 : 0,
        });
        return { applied: true, update };
      }),
      deleteRun: db.prepare<[string]>('DELETE FROM runs WHERE id = ?'),
      // Only ended runs have ended_at; their updates go by ON DELETE CASCADE.
      prune: db.prepare<[number, number]>(
        `DELETE FROM runs WHERE id IN (
           SELECT id FROM runs WHERE ended_at IS NOT NULL AND ended_at < ? LIMIT ?)`,
      ),
      getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
      updates: db.prepare<[string, number, number], UpdateRow>(
        'SELECT * FROM run_updates WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      active: db.prepare<[], RunRow>(
        `SELECT * FROM runs WHERE status IN ${ACTIVE_SQL} ORDER BY created_at, rowid`,
      ),
    };
  }

  private get s(): NonNullable<SqliteRunStore['stmts']> {
    if (!this.stmts) throw new Error('the run store is not open');
    return this.stmts;
  }

  private get f(): SqliteFile {
    if (!this.sqlite) throw new Error('the run store is not open');
    return this.sqlite;
  }

  async createRun(run: NewRun, message: string, now = Date.now()): Promise<RunUpdate> {
    const at = new Date(now).toISOString();
    // IMMEDIATE: the quota count and the insert hold the write lock even across processes.
    const create = this.s.create;
    this.f.write(() =>
      create.immediate(
        {
          id: run.run_id,
          project: run.project,
          domain: run.domain,
          name: run.task,
          version: run.version,
          inputs: JSON.stringify(run.inputs),
          message,
          attempt: run.attempt,
          max_attempts: run.max_attempts,
          now,
          owner: run.user ?? null,
          quota_key: run.quota?.key ?? null,
          external: run.external === undefined ? null : JSON.stringify(run.external),
        },
        {
          run_id: run.run_id,
          seq: 1,
          at: now,
          status: 'QUEUED',
          message,
          progress: null,
          outputs: null,
          error: null,
        },
        run.quota,
      ),
    );
    return { run_id: run.run_id, seq: 1, status: 'QUEUED', message, at };
  }

  async deleteRun(runId: string): Promise<void> {
    const { deleteRun } = this.s;
    this.f.write(() => deleteRun.run(runId));
  }

  async apply(runId: string, change: RunChange, now = Date.now()): Promise<ApplyResult> {
    const { apply } = this.s;
    return this.f.write(() => apply(runId, change, now));
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const { getRun } = this.s;
    const row = this.f.use(() => getRun.get(runId));
    return row ? runRecordOf(row) : undefined;
  }

  async updates(runId: string, afterSeq = 0, limit = MAX_UPDATES): Promise<RunUpdate[]> {
    const { updates } = this.s;
    return this.f.use(() => updates.all(runId, afterSeq, limit)).map(toUpdate);
  }

  async list(query: RunListQuery): Promise<RunRecord[]> {
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
    return this.f.use(() => this.listStatement(sql).all(...params)).map(runRecordOf);
  }

  async listActive(): Promise<ActiveRun[]> {
    const { active } = this.s;
    return this.f.use(() => active.all()).map(runRecordOf);
  }

  async countActive(quotaKey: string): Promise<number> {
    const { countActive } = this.s;
    return this.f.use(() => countActive.get(quotaKey)?.n ?? 0);
  }

  /**
   * Deletes runs that ended more than `retentionMs` before `now`, with their updates, one
   * batch per statement, yielding to the event loop between batches so a large backlog does
   * not stall the server. Returns how many runs it deleted.
   */
  async prune(now = Date.now()): Promise<number> {
    const cutoff = now - this.retentionMs;
    let deleted = 0;
    const stmts = this.s;
    const file = this.f;
    for (;;) {
      const n = file.write(() => stmts.prune.run(cutoff, this.pruneBatch).changes);
      deleted += n;
      if (n < this.pruneBatch) return deleted;
      await new Promise((resolve) => setImmediate(resolve));
      // Closed meanwhile: what is left waits for the next open.
      if (this.stmts !== stmts) return deleted;
    }
  }

  private listStatement(sql: string): SqliteStatement<unknown[], RunRow> {
    let stmt = this.listStatements.get(sql);
    if (!stmt) {
      stmt = this.f.db.prepare<unknown[], RunRow>(sql);
      this.listStatements.set(sql, stmt);
    }
    return stmt;
  }

  async close(): Promise<void> {
    this.stopPruning?.();
    this.stopPruning = undefined;
    this.sqlite?.close();
    this.sqlite = undefined;
    this.stmts = undefined;
    this.listStatements.clear();
  }
}
