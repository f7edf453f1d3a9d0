/**
 * The engine's Lua scripts. Each runs atomically in Redis, which is what makes offsets
 * gap-free across nodes: the position's `HINCRBY`, the stream's `XADD` and the pub/sub
 * `PUBLISH` of one publication happen as one step, so offsets and the order of live messages
 * agree everywhere. Every script touches the keys of one channel only (one hash slot).
 *
 * The position hash holds `epoch`, `offset`, `base` (the offset the epoch started after) and
 * `run` (the `run_id` of the Redis process that last wrote it). Shared rules:
 *
 * - a channel's position is missing (never used, expired, or Redis lost its data): a new
 *   epoch starts at offset 0 and any leftover stream is deleted, so two epochs' entries never
 *   mix and a client holding the old epoch is told `recovered: false`;
 * - the position was written by another Redis process (`run` differs from the caller's, which
 *   the node reads with INFO on each new connection): Redis restarted from RDB/AOF, or failed
 *   over to a replica, and what it restored may lack acked publications, so the offsets after
 *   it are not trusted: a new epoch starts, with `base` = the restored offset. The restored
 *   entries stay (they are what the stream has), offsets keep counting, and every client and
 *   node holding the old epoch learns `recovered: false`: no offset is reused for other data.
 */

const CURRENT_POSITION = `
local function current(pos, run, newEpoch)
  local p = redis.call('HMGET', pos, 'epoch', 'offset', 'base', 'run')
  if not p[1] then return nil, 0, 0 end
  local offset = tonumber(p[2])
  if p[4] ~= run then
    redis.call('HSET', pos, 'epoch', newEpoch, 'base', offset, 'run', run)
    return newEpoch, offset, offset
  end
  return p[1], offset, tonumber(p[3] or 0)
end
`;

const ENSURE_POSITION = `${CURRENT_POSITION}
local function ensure(pos, log, newEpoch, run)
  local epoch, offset, base = current(pos, run, newEpoch)
  if epoch then return epoch, offset, base, false end
  redis.call('DEL', log)
  redis.call('HSET', pos, 'epoch', newEpoch, 'offset', 0, 'base', 0, 'run', run)
  return newEpoch, 0, 0, true
end
`;

/**
 * KEYS: position, log. ARGV: new epoch, max size, log TTL ms, position TTL ms, payload (a
 * JSON object), pub/sub channel, run id. Appends the publication as entry `<offset>-0`
 * (trimmed with `MAXLEN ~`), refreshes both TTLs and publishes
 * `{"e":epoch,"o":offset,…payload}`. Returns `[epoch, offset]`.
 */
export const PUBLISH_SCRIPT = `${ENSURE_POSITION}
local epoch = ensure(KEYS[1], KEYS[2], ARGV[1], ARGV[7])
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], offset .. '-0', 'p', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[6], '{"e":"' .. epoch .. '","o":' .. offset .. ',' .. string.sub(ARGV[5], 2))
return {epoch, offset}
`;

/**
 * KEYS: position, log. ARGV: new epoch, run id. Returns `[epoch, offset]`, starting a stream
 * (with no TTL until its first publication) when there is none.
 */
export const POSITION_SCRIPT = `${ENSURE_POSITION}
local epoch, offset = ensure(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return {epoch, offset}
`;

/**
 * KEYS: position, log. ARGV: new epoch, position TTL ms (for a stream this call starts),
 * mode (`after` or `last`), expected epoch, after offset, count, run id.
 * `after`: up to count entries after the offset, oldest first, when the epoch is the expected
 * one (none otherwise). `last`: the newest count entries, newest first.
 * Returns `[epoch, offset, entries]`.
 */
export const HISTORY_SCRIPT = `${ENSURE_POSITION}
local epoch, offset, base, created = ensure(KEYS[1], KEYS[2], ARGV[1], ARGV[7])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local count = tonumber(ARGV[6])
local entries = {}
if count > 0 then
  if ARGV[3] == 'last' then
    entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', count)
  elseif epoch == ARGV[4] and tonumber(ARGV[5]) < offset then
    entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[5]) + 1) .. '-0', '+', 'COUNT', count)
  end
end
return {epoch, offset, entries}
`;

/**
 * KEYS: position, log. ARGV: expected epoch, after offset, count, run id, new epoch. For a
 * node catching up a live subscription (count 0: reading where a new one starts): never
 * starts a stream, but starts a new epoch when the position was restored by another Redis
 * process, or when the node has seen offsets of the expected epoch that the stream no
 * longer has (it went back in time, e.g. restored from an older copy without a run id to
 * tell). Reads after the offset when the epoch is the expected one, after the epoch's base
 * otherwise. Returns `[epoch, offset, base, entries]`, with epoch `''` when the channel has
 * no stream.
 */
export const CATCH_UP_SCRIPT = `${CURRENT_POSITION}
local epoch, offset, base = current(KEYS[1], ARGV[4], ARGV[5])
if not epoch then return {'', 0, 0, {}} end
local after = base
if epoch == ARGV[1] then
  after = tonumber(ARGV[2])
  if after > offset then
    epoch = ARGV[5]
    base = offset
    after = offset
    redis.call('HSET', KEYS[1], 'epoch', epoch, 'base', base)
  end
end
local count = tonumber(ARGV[3])
if count == 0 or after >= offset then return {epoch, offset, base, {}} end
return {epoch, offset, base, redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', count)}
`;

/**
 * Keeps a presence channel's keys alive while members with a TTL are in it: an entry with no
 * TTL (`+inf`) makes them persistent; otherwise they expire `ttl` ms after the last add or
 * refresh, so a channel whose every node died disappears.
 */
const KEEP_PRESENCE_KEYS = `
local function keep(who, members, ttl)
  if ttl == '' or redis.call('ZCOUNT', who, '+inf', '+inf') > 0 then
    redis.call('PERSIST', who)
    redis.call('PERSIST', members)
    return
  end
  local current = redis.call('PTTL', who)
  if current == -1 or current < tonumber(ttl) then
    redis.call('PEXPIRE', who, ttl)
    redis.call('PEXPIRE', members, ttl)
  end
end
`;

/** KEYS: expiries, members. ARGV: client, member JSON, expiry (ms or `+inf`), key TTL ms or ``. */
export const PRESENCE_ADD_SCRIPT = `${KEEP_PRESENCE_KEYS}
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
keep(KEYS[1], KEYS[2], ARGV[4])
return 1
`;

/** KEYS: expiries, members. ARGV: expiry ms, key TTL ms, clients… (only existing ones are extended). */
export const PRESENCE_REFRESH_SCRIPT = `${KEEP_PRESENCE_KEYS}
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i]) end
keep(KEYS[1], KEYS[2], ARGV[2])
return 1
`;

/** KEYS: expiries, members. ARGV: client. */
export const PRESENCE_REMOVE_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: expiries, members. ARGV: now (ms). Deletes the expired members (their node stopped
 * refreshing them) and returns the JSON of the others. Works in chunks: Lua's unpack() has a
 * small argument limit.
 */
export const PRESENCE_LIST_SCRIPT = `
local function each_chunk(list, fn)
  for i = 1, #list, 500 do fn(unpack(list, i, math.min(i + 499, #list))) end
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
each_chunk(dead, function(...)
  redis.call('ZREM', KEYS[1], ...)
  redis.call('HDEL', KEYS[2], ...)
end)
local alive = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
each_chunk(alive, function(...)
  for _, json in ipairs(redis.call('HMGET', KEYS[2], ...)) do
    if json then out[#out + 1] = json end
  end
end)
return out
`;
