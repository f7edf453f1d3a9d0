import { isTerminal, RUN_TRANSITIONS } from '../state-machine.js';
import { RUN_STATUSES } from '../types.js';

/**
 * The Lua scripts of the Redis run store: each change of a run is one script, so the state
 * machine check, the next `seq`, the record and the appended update happen atomically.
 */

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
export const CREATE_SCRIPT = `
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
export const APPLY_SCRIPT = `
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
export const LIST_SCRIPT = `
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
export const PRUNE_SCRIPT = `
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

/** The scripts as commands of the store's connection (defined by `defineScripts`). */
export interface Scripted {
  whRunCreate(...args: string[]): Promise<number>;
  whRunApply(...args: string[]): Promise<[number, string | number, string?]>;
  whRunList(...args: string[]): Promise<(string | string[])[]>;
  whRunPrune(...args: string[]): Promise<[number, number]>;
}

/** Defines the scripts as commands of `redis` (named as in `Scripted`). */
export function defineScripts(redis: {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
}): void {
  redis.defineCommand('whRunCreate', { numberOfKeys: 7, lua: CREATE_SCRIPT });
  redis.defineCommand('whRunApply', { numberOfKeys: 3 + RUN_STATUSES.length, lua: APPLY_SCRIPT });
  redis.defineCommand('whRunList', { numberOfKeys: 1, lua: LIST_SCRIPT });
  redis.defineCommand('whRunPrune', { numberOfKeys: 1, lua: PRUNE_SCRIPT });
}
