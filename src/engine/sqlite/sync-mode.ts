/**
 * How hard a SQLite store syncs its commits (SQLite's `synchronous`, in WAL mode):
 *
 * - `normal` (default): a commit is written to the WAL, which the OS flushes later. Nothing
 *   committed is lost when the **process** dies (kill -9, crash, OOM); a power loss or an OS
 *   crash can lose the last commits (and SQLite stays consistent).
 * - `full`: every commit waits for the disk (fsync). Nothing committed is lost even on power
 *   loss, at the cost of one fsync per commit (group commit makes that one per batch).
 *
 * (In a module of its own, without better-sqlite3, so the CLI can parse the flag cheaply.)
 */
export type SqliteSync = 'normal' | 'full';

export const SQLITE_SYNC_MODES: readonly SqliteSync[] = ['normal', 'full'];
