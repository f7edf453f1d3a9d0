/**
 * The Redis key layout of the engine. Every key of one channel carries the channel name as
 * its hash tag (`{chat:lobby}`), so a channel's stream, position and presence live in one
 * hash slot: the Lua scripts that touch several of them stay valid on Redis Cluster, and a
 * move to sharded pub/sub (SPUBLISH, same slot as the keys) changes no key.
 *
 * | key                              | type   | holds                                                  |
 * | -------------------------------- | ------ | ------------------------------------------------------ |
 * | `<p>{<channel>}:pos`             | hash   | `epoch`, `offset`, `base`, `run`: the position (below) |
 * | `<p>{<channel>}:log`             | stream | the kept publications; entry id `<offset>-0`           |
 * | `<p>{<channel>}:pub`             | pubsub | live publications of the channel (not a key)           |
 * | `<p>{<channel>}:who`             | zset   | presence: client id → expiry (ms since the Unix epoch) |
 * | `<p>{<channel>}:members`         | hash   | presence: client id → the member as JSON               |
 *
 * The position's `base` is the offset its epoch started after, `run` the `run_id` of the Redis
 * process that wrote it (a stream restored by another process starts a new epoch: see
 * scripts.ts).
 *
 * Reserved for run records (slice 2 of #5): `<p>run:{<id>}` (hash, one run) and `<p>runs`
 * (index); BullMQ queues use the prefix `<p>bull`. A run's updates are channel `run:<id>`,
 * so they use the channel keys above.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The channel's position hash (`epoch`, `offset`, `base`, `run`). */
  position(channel: string): string {
    return `${this.prefix}{${channel}}:pos`;
  }

  /** The channel's history stream. */
  log(channel: string): string {
    return `${this.prefix}{${channel}}:log`;
  }

  /** The Redis pub/sub channel that carries the channel's live publications. */
  pubsub(channel: string): string {
    return `${this.prefix}{${channel}}:pub`;
  }

  /** Presence expiries (sorted set: member → expiry in ms). */
  presenceExpiry(channel: string): string {
    return `${this.prefix}{${channel}}:who`;
  }

  /** Presence members (hash: client id → JSON member). */
  presenceMembers(channel: string): string {
    return `${this.prefix}{${channel}}:members`;
  }
}
