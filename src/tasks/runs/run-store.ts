import type { StoreHealth } from '../../engine/store-health.js';
import type { PatternPieces } from '../../hub/permissions.js';
import { WirehubError } from '../../protocol/index.js';
import { canTransition, isTerminal } from './state-machine.js';
import type { RunError, RunRecord, RunStatus, RunUpdate } from './types.js';

/** A new run, before its first update. */
export type NewRun = Pick<
  RunRecord,
  | 'run_id'
  | 'project'
  | 'domain'
  | 'task'
  | 'version'
  | 'inputs'
  | 'max_attempts'
  | 'attempt'
  | 'user'
  | 'external'
> & {
  /** The limit the run counts against while it is active (queued or running). */
  quota?: RunQuota;
};

/**
 * A limit on runs in progress: at most `max` active runs may count against `key` (one per
 * user: `runs:user:<sub>`). The store checks it in the same atomic step that creates the
 * run, and a run stops counting in the step that applies its terminal status, so the limit
 * follows the runs themselves: it holds across every process that shares the store, and a
 * process that dies holds nothing (its runs count until they are re-queued and end, or fail).
 */
export interface RunQuota {
  key: string;
  max: number;
  /** Who the limit is for, as the refusal names them. */
  who?: string;
}

/** A run that had not ended. */
export type ActiveRun = RunRecord;

/** The refusal of a run over its quota: `too_many_runs` (HTTP 429) with `details.max`. */
export function tooManyRuns(quota: RunQuota): WirehubError {
  return new WirehubError(
    'too_many_runs',
    `${quota.who ?? 'this user'} already has ${quota.max} runs in progress; wait for one to end`,
    { max: quota.max },
  );
}

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

/** One step to apply to a run. The store gives it its `seq` and time, or refuses it. */
export interface RunChange {
  status: RunStatus;
  message: string;
  progress?: number;
  /** The attempt the run moves to (on INITIALIZING, and on QUEUED before a retry). */
  attempt?: number;
  /** The attempt the change comes from: refused when older than the run's current attempt. */
  fromAttempt?: number;
  /** Refused unless the run's last update has this `seq` (compare-and-set). */
  ifSeq?: number;
  outputs?: unknown;
  error?: RunError;
}

/** Why a store refused a change. */
export type RefusalReason = 'unknown_run' | 'ended' | 'invalid_transition' | 'stale_attempt' | 'seq_changed';

export type ApplyResult =
  | { applied: true; update: RunUpdate }
  | { applied: false; reason: RefusalReason; status?: RunStatus };

/**
 * Where runs and their updates are kept: SQLite (one node) or Redis (every node of a
 * cluster sees every run). Each change is checked and applied atomically by the store
 * itself — the state machine, the next `seq`, the attempt — so several processes (nodes,
 * BullMQ workers) may apply updates to the same run without a lost or doubled step. Every
 * store passes the same conformance suite (`test/support/run-store-conformance.ts`).
 *
 * @example
 * ```ts
 * const store: RunStore = new SqliteRunStore('./.wirehub/runs.db');
 * await store.open();
 * const first = await store.createRun(newRun, 'queued acme/production/greet@v1');
 * const result = await store.apply(first.run_id, { status: 'INITIALIZING', message: 'loading', attempt: 1 });
 * ```
 */
export interface RunStore {
  readonly kind: string;
  /** A store with a file of its own reports its health here (readiness, `/metrics`). */
  readonly health?: StoreHealth | undefined;
  /** Connects or opens (creating what is missing). Idempotent. */
  open(): Promise<void>;
  /**
   * Creates a run with its first update (QUEUED, `seq` 1) and returns that update. With
   * `run.quota`, atomically refuses it (`too_many_runs`) when `quota.max` active runs already
   * count against `quota.key`.
   */
  createRun(run: NewRun, message: string, now?: number): Promise<RunUpdate>;
  /** Forgets a run entirely (one its executor refused right after it was created). */
  deleteRun(runId: string): Promise<void>;
  /**
   * Applies a change if the run exists, has not ended, may move to `change.status`, and the
   * change is not from an older attempt (nor, with `ifSeq`, behind the run's last update).
   */
  apply(runId: string, change: RunChange, now?: number): Promise<ApplyResult>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** A run's updates after `afterSeq`, oldest first. */
  updates(runId: string, afterSeq?: number, limit?: number): Promise<RunUpdate[]>;
  /**
   * Newest runs first: optionally only those in one status, of some tasks, or of one user.
   * The store filters, so a caller who may see few runs does not page through the rest.
   */
  list(query: RunListQuery): Promise<RunRecord[]>;
  /** Runs that have not ended, oldest first (what a restart must look after). */
  listActive(): Promise<ActiveRun[]>;
  /** How many active runs count against the quota `key`. */
  countActive(quotaKey: string): Promise<number>;
  /**
   * Removes what is left of runs that ended more than the store's retention before `now`,
   * in bounded batches, and returns how many runs it removed. Active runs are never removed;
   * a removed run is unknown everywhere. SQLite deletes the rows; Redis has already expired
   * the records and drops their leftover index entries. The store also calls it itself, on
   * open and then periodically (`pruneIntervalMs`).
   */
  prune(now?: number): Promise<number>;
  close(): Promise<void>;
}

/** How long an ended run (record and updates) is kept by default: 7 days. */
export const DEFAULT_RUN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * How often a store prunes by itself: `pruneEveryMs` when given, else hourly, or every
 * `retentionMs` when that is shorter (at least every second).
 */
export function pruneIntervalMs(retentionMs: number, pruneEveryMs?: number): number {
  return pruneEveryMs ?? Math.max(1000, Math.min(60 * 60 * 1000, retentionMs));
}

/** Most updates `updates()` returns when no limit is given. */
export const MAX_UPDATES = 100_000;

/** The JSON of an update without its `run_id` and `seq`: stores put those in front. */
export function updateBody(change: RunChange, at: string): Record<string, unknown> {
  const body: Record<string, unknown> = { status: change.status, message: change.message, at };
  if (change.progress !== undefined) body.progress = change.progress;
  if (change.outputs !== undefined) body.outputs = change.outputs;
  if (change.error !== undefined) body.error = change.error;
  return body;
}

/**
 * Why a change may not apply to a run in this state, if it may not: the rules every store
 * applies (the Redis store runs the same checks in Lua).
 */
export function refusal(
  cur: { status: RunStatus; seq: number; attempt: number },
  change: RunChange,
): ApplyResult | undefined {
  if (isTerminal(cur.status)) return { applied: false, reason: 'ended', status: cur.status };
  if (!canTransition(cur.status, change.status))
    return { applied: false, reason: 'invalid_transition', status: cur.status };
  if (change.fromAttempt !== undefined && change.fromAttempt < cur.attempt)
    return { applied: false, reason: 'stale_attempt', status: cur.status };
  if (change.ifSeq !== undefined && change.ifSeq !== cur.seq)
    return { applied: false, reason: 'seq_changed', status: cur.status };
  return undefined;
}
