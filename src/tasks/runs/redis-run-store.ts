import { Redis } from 'ioredis';
import { DEFAULT_REDIS_PREFIX, redisCall, redisClientName } from '../../engine/redis/connection.js';
import { WirehubError } from '../../protocol/index.js';
import { startPruning } from './prune-timer.js';
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
} from './run-store.js';
import { isTerminal, RUN_TRANSITIONS } from './state-machine.js';
import {
  type ExternalRun,
  RUN_STATUSES,
  type RunError,
  type RunRecord,
  type RunStatus,
  type RunUpdate,
} from './types.js';

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
}

/** Index entries one prune script looks at. */
const PRUNE_BATCH = 1000;

/** The state machine as a Lua table literal, generated from the one in TypeScript. */
const LUA_NEXT = `{${RUN_STATUSES.map(
  (from) => `${from}={${[...RUN_TRANSITIONS[from]].map((to) => `${to}=true`).join(',')}}`,
).join(',')}}`;
const LUA_TERMINAL = `{${RUN_STATUSES.filter(isTerminal)
  .map((s) => `${s}=true`)
  .join(',')}}`;
/** KEYS index of each status's index set in the apply script (they follow run, updates, active). */
const LUA_STATUS_KEYS = `{${RUN_STATUSES.map((s, i) => `${s}=KEYS[${i + 4}]`).join(',')}}`;

// KEYS: run, updates, all, active, status:QUEUED, the owner's index, the quota's set.
// ARGV: id, now, score, first update, '1' when the run has an owner, the quota's max ('' =
// none), then field/value pairs of the record. Returns 1, 0 (exists) or -1 (over the quota).
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[6] ~= '' and redis.call('ZCARD', KEYS[7]) >= tonumber(ARGV[6]) then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1]) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[7], ARGV[3], ARGV[1]) end
return 1
`;

// The rules of refusal() in run-store.ts, applied atomically next to the data.
// KEYS: run, updates, active, then one index set per status (RUN_STATUSES order).
// ARGV: id, status, message, now, body JSON (update without run_id/seq), progress, attempt,
// fromAttempt, ifSeq, outputs JSON, error JSON, retention ms, prefix of quota sets ('' = absent).
// The quota set a run counts against is named in its record, so the key is built here: it
// carries the same {runs} hash tag, so it lives in the same slot on Redis Cluster.
const APPLY_SCRIPT = `
local NEXT = ${LUA_NEXT}
local TERMINAL = ${LUA_TERMINAL}
local BY_STATUS = ${LUA_STATUS_KEYS}
local cur = redis.call('HMGET', KEYS[1], 'status', 'seq', 'attempt', 'score', 'started_at', 'quota_key')
local from = cur[1]
if not from then return {0, 'unknown_run'} end
if TERMINAL[from] then return {0, 'ended', from} end
local to = ARGV[2]
if not NEXT[from][to] then return {0, 'invalid_transition', from} end
if ARGV[8] ~= '' and tonumber(ARGV[8]) < tonumber(cur[3]) then return {0, 'stale_attempt', from} end
if ARGV[9] ~= '' and tonumber(ARGV[9]) ~= tonumber(cur[2]) then return {0, 'seq_changed', from} end
local seq = tonumber(cur[2]) + 1
local set = {'status', to, 'message', ARGV[3], 'seq', seq, 'updated_at', ARGV[4]}
local function put(field, value) if value ~= '' then set[#set + 1] = field; set[#set + 1] = value end end
put('progress', ARGV[6])
put('attempt', ARGV[7])
put('outputs', ARGV[10])
put('error', ARGV[11])
if to == 'RUNNING' and not cur[5] then put('started_at', ARGV[4]) end
if TERMINAL[to] then put('ended_at', ARGV[4]) end
redis.call('HSET', KEYS[1], unpack(set))
redis.call('RPUSH', KEYS[2], '{"run_id":' .. cjson.encode(ARGV[1]) .. ',"seq":' .. seq .. ',' .. string.sub(ARGV[5], 2))
if to ~= from then
  redis.call('ZREM', BY_STATUS[from], ARGV[1])
  redis.call('ZADD', BY_STATUS[to], cur[4], ARGV[1])
end
if TERMINAL[to] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  if cur[6] then redis.call('ZREM', ARGV[13] .. cur[6], ARGV[1]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[12])
  redis.call('PEXPIRE', KEYS[2], ARGV[12])
end
return {1, seq}
`;

// Newest first from an index set, skipping (and dropping) runs whose record expired, and
// keeping those that pass the filters: status, owner, and task patterns given as the literal
// pieces between '*' wildcards (the grant matcher's semantics: anchored at both ends).
// KEYS: the index. ARGV: limit, record key prefix, status or '', owner or '', JSON array of
// pattern pieces or ''. Returns {id, {field, value, …}, …}.
const LIST_SCRIPT = `
local function matches(s, pieces)
  local n = #pieces
  if n == 1 then return s == pieces[1] end
  local first, last = pieces[1], pieces[n]
  if #s < #first + #last then return false end
  if string.sub(s, 1, #first) ~= first then return false end
  if #last > 0 and string.sub(s, #s - #last + 1) ~= last then return false end
  local pos, limit = #first + 1, #s - #last
  for i = 2, n - 1 do
    local p = pieces[i]
    if #p > 0 then
      local a, b = string.find(s, p, pos, true)
      if not a or b > limit then return false end
      pos = b + 1
    end
  end
  return true
end
local limit = tonumber(ARGV[1])
local status, owner = ARGV[3], ARGV[4]
local patterns = nil
if ARGV[5] ~= '' then patterns = cjson.decode(ARGV[5]) end
local out = {}
local gone = {}
local start = 0
local batch = math.max(limit, 50)
while #out < limit * 2 do
  local ids = redis.call('ZREVRANGE', KEYS[1], start, start + batch - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local h = redis.call('HGETALL', ARGV[2] .. id)
    if #h == 0 then gone[#gone + 1] = id
    elseif #out < limit * 2 then
      local f = {}
      for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
      local ok = (status == '' or f.status == status) and (owner == '' or f.owner == owner)
      if ok and patterns then
        local task = f.project .. '/' .. f.domain .. '/' .. f.name
        ok = false
        for _, pieces in ipairs(patterns) do
          if matches(task, pieces) then ok = true; break end
        end
      end
      if ok then out[#out + 1] = id; out[#out + 1] = h end
    end
  end
  start = start + batch
end
for _, id in ipairs(gone) do redis.call('ZREM', KEYS[1], id) end
return out
`;

// The oldest entries of an index up to a score (those whose run may have expired): drops the
// ones whose record is gone. KEYS: the index. ARGV: highest score, offset, count, record key
// prefix. Returns {entries looked at, entries dropped}.
const PRUNE_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', ARGV[2], ARGV[3])
local gone = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[4] .. id) == 0 then
    redis.call('ZREM', KEYS[1], id)
    gone = gone + 1
  end
end
return {#ids, gone}
`;

interface Scripted {
  whRunCreate(...args: string[]): Promise<number>;
  whRunApply(...args: string[]): Promise<[number, string | number, string?]>;
  whRunList(...args: string[]): Promise<(string | string[])[]>;
  whRunPrune(...args: string[]): Promise<[number, number]>;
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/** A key prefix as a literal SCAN pattern (`*`, `?`, `[`, `]` and `\\` escaped). */
const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

const iso = (ms: string): string => new Date(Number(ms)).toISOString();

function toRecord(runId: string, h: Record<string, string>): RunRecord | undefined {
  if (h.status === undefined) return undefined;
  const record: RunRecord = {
    run_id: runId,
    project: h.project ?? '',
    domain: h.domain ?? '',
    task: h.name ?? '',
    version: h.version ?? '',
    inputs: JSON.parse(h.inputs ?? 'null') as unknown,
    status: h.status as RunStatus,
    message: h.message ?? '',
    attempt: Number(h.attempt),
    max_attempts: Number(h.max_attempts),
    created_at: iso(h.created_at ?? '0'),
    updated_at: iso(h.updated_at ?? '0'),
    seq: Number(h.seq),
  };
  if (h.progress !== undefined) record.progress = Number(h.progress);
  if (h.started_at !== undefined) record.started_at = iso(h.started_at);
  if (h.ended_at !== undefined) record.ended_at = iso(h.ended_at);
  if (h.outputs !== undefined) record.outputs = JSON.parse(h.outputs) as unknown;
  if (h.error !== undefined) record.error = JSON.parse(h.error) as RunError;
  if (h.owner !== undefined) record.user = h.owner;
  if (h.external !== undefined) record.external = JSON.parse(h.external) as ExternalRun;
  return record;
}

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
      connectionName: redisClientName('runs'),
    });
    // Errors surface on the commands that fail; the connection reconnects by itself.
    this.redis.on('error', () => {});
    this.redis.defineCommand('whRunCreate', { numberOfKeys: 7, lua: CREATE_SCRIPT });
    this.redis.defineCommand('whRunApply', { numberOfKeys: 3 + RUN_STATUSES.length, lua: APPLY_SCRIPT });
    this.redis.defineCommand('whRunList', { numberOfKeys: 1, lua: LIST_SCRIPT });
    this.redis.defineCommand('whRunPrune', { numberOfKeys: 1, lua: PRUNE_SCRIPT });
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
