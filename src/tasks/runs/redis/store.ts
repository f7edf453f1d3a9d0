import { Redis } from 'ioredis';
import { DEFAULT_REDIS_PREFIX, redisCall, redisClientName } from '../../../engine/redis/connection.js';
import { WirehubError } from '../../../protocol/index.js';
import { startPruning } from '../prune-timer.js';
import {
  type ActiveRun,
  type ApplyResult,
  DEFAULT_RUN_RETENTION_MS,
  MAX_UPDATES,
  type NewRun,
  pruneIntervalMs,
  type RefusalReason,
  type RunChange,
  type RunListQuery,
  type RunStore,
  tooManyRuns,
  updateBody,
} from '../run-store.js';
import { isTerminal } from '../state-machine.js';
import { RUN_STATUSES, type RunRecord, type RunStatus, type RunUpdate } from '../types.js';
import { fieldsOf, globLiteral, toRecord } from './codec.js';
import { defineScripts, type Scripted } from './scripts.js';

export interface RedisRunStoreOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prefix of every key, shared with the engine and the BullMQ queue. Default `wirehub:`. */
  prefix?: string;
  /**
   * How long an ended run (record and updates) is kept. Default 7 days, like `run:*` history.
   * Set when the run ends, by whichever process applies its end: give every node and worker
   * the same value.
   */
  retentionMs?: number;
  /**
   * How often the store prunes by itself, first on open. Default hourly (every `retentionMs`
   * when shorter); 0: never, call `prune()`.
   */
  pruneEveryMs?: number;
  /**
   * A command unanswered for this long fails with `broker_unavailable`. Default 5 s, like the
   * engine's. Without it a hung Redis (frozen, or a silent network) held every run request
   * until the socket closed, which on an open TCP connection may be never.
   */
  commandTimeoutMs?: number;
}

/** Index entries one prune script looks at. */
const PRUNE_BATCH = 1000;

/**
 * Runs and their updates in Redis, so every node of a cluster (and every `wirehub worker`)
 * sees every run. Each change is one Lua script: the state machine check, the next `seq`,
 * the record and the appended update happen atomically, so processes that apply updates to
 * the same run (the node that created it, the worker running it, the node that cancels it)
 * never lose or double a step.
 *
 * Keys (all under the hash tag `{runs}`, so the scripts stay valid on Redis Cluster):
 *
 * | key                           | type   | holds                                             |
 * | ----------------------------- | ------ | ------------------------------------------------- |
 * | `<p>{runs}:r:<id>`            | hash   | the run record                                    |
 * | `<p>{runs}:u:<id>`            | list   | its updates as JSON, `seq` 1 first                |
 * | `<p>{runs}:all`               | zset   | every run, by creation time                       |
 * | `<p>{runs}:active`            | zset   | runs not ended                                    |
 * | `<p>{runs}:s:<STATUS>`        | zset   | runs per status                                   |
 * | `<p>{runs}:o:<user>`          | zset   | runs per user who started them                    |
 * | `<p>{runs}:q:<quota key>`     | zset   | active runs counting against a per-user limit     |
 *
 * A run is added to its quota set in the script that creates it, if the set holds fewer than
 * the limit, and removed in the script that applies its terminal status: the per-user limit
 * holds cluster-wide, and nothing is held by a node that dies.
 *
 * An ended run's record and updates expire after `retentionMs`; index entries of expired
 * runs are dropped as lists come across them, and by `prune` (on open, then hourly), which
 * walks the oldest entries of every index.
 *
 * @example
 * ```ts
 * const store = new RedisRunStore({ url: 'redis://127.0.0.1:6379' });
 * await store.open();
 * const run = await store.getRun('r-3mA9xQ2pLk0bZq1W');
 * ```
 */
export class RedisRunStore implements RunStore {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly scripts: Scripted;
  private readonly prefix: string;
  private readonly retentionMs: number;
  private readonly pruneEveryMs: number;
  /** Orders runs created within the same millisecond on this node. */
  private counter = 0;
  private opened: Promise<void> | undefined;
  private stopPruning: (() => void) | undefined;

  constructor(options: RedisRunStoreOptions) {
    this.prefix = `${options.prefix ?? DEFAULT_REDIS_PREFIX}{runs}:`;
    this.retentionMs = options.retentionMs ?? DEFAULT_RUN_RETENTION_MS;
    this.pruneEveryMs = pruneIntervalMs(this.retentionMs, options.pruneEveryMs);
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      // Fail fast while Redis is away (the caller gets broker_unavailable), and never send a
      // command again after a reconnect: an update applied twice would get two seqs.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      keepAlive: 10_000,
      connectionName: redisClientName('runs'),
    });
    // Errors surface on the commands that fail; the connection reconnects by itself.
    this.redis.on('error', () => {});
    defineScripts(this.redis);
    this.scripts = this.redis as unknown as Scripted;
  }

  private key(kind: string, id = ''): string {
    return `${this.prefix}${kind}${id}`;
  }

  private statusKey(status: RunStatus): string {
    return this.key('s:', status);
  }

  /** The runs one user started (newest first by score). */
  private ownerKey(user: string): string {
    return this.key('o:', user);
  }

  /** The active runs that count against one quota. */
  private quotaKey(key: string): string {
    return this.key('q:', key);
  }

  open(): Promise<void> {
    this.opened ??= this.redis.connect().then(
      () => {
        this.stopPruning ??= startPruning(() => this.prune(), this.pruneEveryMs);
      },
      (err: unknown) => {
        this.opened = undefined;
        throw err;
      },
    );
    return this.opened;
  }

  async createRun(run: NewRun, message: string, now = Date.now()): Promise<RunUpdate> {
    return this.call(() => this.create(run, message, now));
  }

  private async create(run: NewRun, message: string, now: number): Promise<RunUpdate> {
    const at = new Date(now).toISOString();
    const first: RunUpdate = { run_id: run.run_id, seq: 1, status: 'QUEUED', message, at };
    this.counter = (this.counter + 1) % 1000;
    // Milliseconds, then three digits of a counter: creation order, even within a millisecond.
    const score = `${now}${String(this.counter).padStart(3, '0')}`;
    const created = await this.scripts.whRunCreate(
      this.key('r:', run.run_id),
      this.key('u:', run.run_id),
      this.key('all'),
      this.key('active'),
      this.statusKey('QUEUED'),
      this.ownerKey(run.user ?? ''),
      this.quotaKey(run.quota?.key ?? ''),
      run.run_id,
      String(now),
      score,
      JSON.stringify(first),
      run.user === undefined ? '0' : '1',
      run.quota === undefined ? '' : String(run.quota.max),
      ...[
        ['project', run.project],
        ['domain', run.domain],
        ['name', run.task],
        ['version', run.version],
        ['inputs', JSON.stringify(run.inputs ?? null)],
        ['status', 'QUEUED'],
        ['message', message],
        ['attempt', String(run.attempt)],
        ['max_attempts', String(run.max_attempts)],
        ['seq', '1'],
        ['created_at', String(now)],
        ['updated_at', String(now)],
        ['score', score],
        ...(run.user === undefined ? [] : [['owner', run.user]]),
        ...(run.quota === undefined ? [] : [['quota_key', run.quota.key]]),
        ...(run.external === undefined ? [] : [['external', JSON.stringify(run.external)]]),
      ].flat(),
    );
    if (created === -1 && run.quota) throw tooManyRuns(run.quota);
    if (created !== 1) throw new WirehubError('internal', `run ${run.run_id} already exists`);
    return first;
  }

  async deleteRun(runId: string): Promise<void> {
    return this.call(() => this.delete(runId));
  }

  private async delete(runId: string): Promise<void> {
    const [owner, quota] = await this.redis.hmget(this.key('r:', runId), 'owner', 'quota_key');
    const tx = this.redis
      .multi()
      .del(this.key('r:', runId), this.key('u:', runId))
      .zrem(this.key('all'), runId)
      .zrem(this.key('active'), runId);
    for (const status of RUN_STATUSES) tx.zrem(this.statusKey(status), runId);
    if (owner != null) tx.zrem(this.ownerKey(owner), runId);
    if (quota != null) tx.zrem(this.quotaKey(quota), runId);
    await tx.exec();
  }

  async apply(runId: string, change: RunChange, now = Date.now()): Promise<ApplyResult> {
    return this.call(() => this.applyNow(runId, change, now));
  }

  private async applyNow(runId: string, change: RunChange, now: number): Promise<ApplyResult> {
    const at = new Date(now).toISOString();
    const opt = (v: number | undefined) => (v === undefined ? '' : String(v));
    const json = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
    const [ok, second, status] = await this.scripts.whRunApply(
      this.key('r:', runId),
      this.key('u:', runId),
      this.key('active'),
      ...RUN_STATUSES.map((s) => this.statusKey(s)),
      runId,
      change.status,
      change.message,
      String(now),
      JSON.stringify(updateBody(change, at)),
      opt(change.progress),
      opt(change.attempt),
      opt(change.fromAttempt),
      opt(change.ifSeq),
      json(change.outputs),
      json(change.error),
      String(this.retentionMs),
      this.key('q:'),
    );
    if (ok !== 1) {
      const refused: ApplyResult = { applied: false, reason: second as RefusalReason };
      if (status !== undefined) refused.status = status as RunStatus;
      return refused;
    }
    const update = { run_id: runId, seq: Number(second), ...updateBody(change, at) } as RunUpdate;
    return { applied: true, update };
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return toRecord(runId, await this.call(() => this.redis.hgetall(this.key('r:', runId))));
  }

  async updates(runId: string, afterSeq = 0, limit = MAX_UPDATES): Promise<RunUpdate[]> {
    const from = Math.max(0, afterSeq);
    const rows = await this.call(() => this.redis.lrange(this.key('u:', runId), from, from + limit - 1));
    return rows.map((row) => JSON.parse(row) as RunUpdate);
  }

  list(query: RunListQuery): Promise<RunRecord[]> {
    return this.call(() => this.listNow(query));
  }

  private async listNow(query: RunListQuery): Promise<RunRecord[]> {
    if (query.tasks?.length === 0) return [];
    // The narrowest index: the user's runs, or one status, or all.
    const index =
      query.user !== undefined
        ? this.ownerKey(query.user)
        : query.status
          ? this.statusKey(query.status)
          : this.key('all');
    const flat = await this.scripts.whRunList(
      index,
      String(query.limit),
      this.key('r:'),
      query.status ?? '',
      query.user ?? '',
      query.tasks === undefined ? '' : JSON.stringify(query.tasks),
    );
    const out: RunRecord[] = [];
    for (let i = 0; i + 1 < flat.length && out.length < query.limit; i += 2) {
      const record = toRecord(flat[i] as string, fieldsOf(flat[i + 1] as string[]));
      if (record) out.push(record);
    }
    return out;
  }

  listActive(): Promise<ActiveRun[]> {
    return this.call(() => this.listActiveNow());
  }

  private async listActiveNow(): Promise<ActiveRun[]> {
    const ids = await this.redis.zrange(this.key('active'), 0, -1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.key('r:', id));
    const replies = (await pipe.exec()) ?? [];
    const out: ActiveRun[] = [];
    ids.forEach((id, i) => {
      const [err, reply] = replies[i] ?? [null, {}];
      if (err) throw err;
      const record: ActiveRun | undefined = toRecord(id, reply as Record<string, string>);
      if (record && !isTerminal(record.status)) out.push(record);
    });
    return out;
  }

  countActive(quotaKey: string): Promise<number> {
    return this.call(() => this.redis.zcard(this.quotaKey(quotaKey)));
  }

  /**
   * Drops the index entries of runs whose records expired (they ended more than the
   * retention ago): from the index of all runs, each status's and each user's. Records and
   * updates expire by themselves. Returns how many runs it dropped from the index of all runs.
   */
  prune(now = Date.now()): Promise<number> {
    return this.call(() => this.pruneNow(now));
  }

  private async pruneNow(now: number): Promise<number> {
    // Scores are creation ms then 3 digits: a run created after this cannot have expired.
    const highest = `${Math.max(0, now - this.retentionMs)}999`;
    const owners: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${globLiteral(this.key('o:'))}*`,
        'COUNT',
        100,
      );
      owners.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    const removed = await this.pruneIndex(this.key('all'), highest);
    for (const index of [...RUN_STATUSES.map((s) => this.statusKey(s)), ...owners]) {
      await this.pruneIndex(index, highest);
    }
    return removed;
  }

  /** One index, in batches: entries still alive are stepped over, dropped ones vanish. */
  private async pruneIndex(index: string, highest: string): Promise<number> {
    let offset = 0;
    let removed = 0;
    for (;;) {
      const [seen, gone] = await this.scripts.whRunPrune(
        index,
        highest,
        String(offset),
        String(PRUNE_BATCH),
        this.key('r:'),
      );
      removed += gone;
      offset += seen - gone;
      if (seen < PRUNE_BATCH) return removed;
    }
  }

  /** Runs a Redis call; a failure to reach Redis becomes `broker_unavailable`. */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return redisCall('the run store', fn);
  }

  async close(): Promise<void> {
    this.stopPruning?.();
    this.stopPruning = undefined;
    this.opened = undefined;
    if (this.redis.status === 'wait' || this.redis.status === 'end') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
