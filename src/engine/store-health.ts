/**
 * The health of one persistent store (a SQLite file: `channels.db`, `runs.db`), as readiness
 * and `/metrics` report it. A store that fails a read or a write is not ready; it is ready
 * again once a write commits (the store probes with a tiny write while it is failing, so it
 * comes back without traffic). A **damaged** file (SQLite says corrupt, or not a database)
 * stays not ready until it is repaired and the server restarted: writes may still succeed on
 * other pages, but the data on the damaged ones is gone.
 *
 * @example
 * ```ts
 * const health = new StoreHealth('channels', '/data/channels.db');
 * health.failed(new Error('SQLITE_FULL: database or disk is full'), false);
 * health.problem; // 'the channels store (/data/channels.db) failed: SQLITE_FULL: …'
 * health.committed(); // a write went through: ready again
 * ```
 */
export class StoreHealth {
  /** Store operations that failed since the start (for `wirehub_store_errors_total`). */
  errors = 0;
  private reason: string | undefined;
  private isDamaged = false;

  constructor(
    /** The store's name in metrics and messages: `channels`, `runs`. */
    readonly store: string,
    readonly file: string,
  ) {}

  /** Why the store is not ready, or undefined while it works. */
  get problem(): string | undefined {
    return this.reason;
  }

  get damaged(): boolean {
    return this.isDamaged;
  }

  /** Counts a failed operation and makes the store not ready (for good when `damaged`). */
  failed(err: unknown, damaged: boolean): void {
    this.errors += 1;
    const what = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    const detail = typeof code === 'string' && !what.includes(code) ? `${code}: ${what}` : what;
    if (this.isDamaged) return;
    if (damaged) {
      this.isDamaged = true;
      this.reason = `the ${this.store} store (${this.file}) is damaged (${detail}): stop wirehub, restore the file from a backup or move it aside, then start again`;
    } else {
      this.reason = `the ${this.store} store (${this.file}) failed (${detail}): not ready until a write succeeds`;
    }
  }

  /**
   * Takes the state another process reported for the same store (a `--workers` worker mirrors
   * the primary's store, which only the primary opens).
   */
  adopt(state: { problem: string | undefined; damaged: boolean; errors: number }): void {
    this.reason = state.problem;
    this.isDamaged = state.damaged;
    this.errors = state.errors;
  }

  /** A write committed: the store works (unless its file is damaged). */
  committed(): void {
    if (this.reason === undefined || this.isDamaged) return;
    this.reason = undefined;
  }
}
