import { WirehubError } from '../../protocol/index.js';

/**
 * The one place that knows how wirehub talks to Redis: the default key prefix, how a
 * `redis` option (a URL or options) is read, the names its connections show in `CLIENT
 * LIST`, and how a failure to reach Redis becomes `broker_unavailable`. The Redis engine,
 * the Redis run store, the BullMQ executor, `createServer` and `createWorker` all use it.
 *
 * It imports nothing from ioredis, so the assembly code that reads a `redis` option stays
 * free of it (Redis is loaded only when configured; see src/runtime/).
 */

/** Prefix of every key and pub/sub channel when none is given. */
export const DEFAULT_REDIS_PREFIX = 'wirehub:';

/** Where a cluster's Redis is, and the key prefix its engine uses (the task runner shares it). */
export interface RedisTarget {
  url: string;
  prefix?: string | undefined;
}

/**
 * A `redis` option (a URL, or options with a `url`) with its prefix filled in.
 *
 * @example
 * ```ts
 * redisTarget('redis://127.0.0.1:6379'); // { url: 'redis://127.0.0.1:6379', prefix: 'wirehub:' }
 * ```
 */
export function redisTarget<T extends RedisTarget>(
  option: string | T,
): (T | RedisTarget) & { prefix: string } {
  if (typeof option === 'string') return { url: option, prefix: DEFAULT_REDIS_PREFIX };
  return { ...option, prefix: option.prefix ?? DEFAULT_REDIS_PREFIX };
}

/** The name a wirehub connection shows in Redis's `CLIENT LIST`: `wirehub:<part>:<part>…`. */
export function redisClientName(...parts: string[]): string {
  return ['wirehub', ...parts].join(':');
}

/**
 * A failure to reach Redis becomes `broker_unavailable` ("`what` (Redis) is unavailable");
 * an error Redis answered (a `ReplyError`) or a wirehub error stays as it is.
 */
export function brokerUnavailable(err: unknown, what: string): unknown {
  if (err instanceof WirehubError || isReplyError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new WirehubError('broker_unavailable', `${what} (Redis) is unavailable: ${reason}`);
}

/** Runs a Redis call; a failure to reach Redis is thrown as `broker_unavailable` (see above). */
export async function redisCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw brokerUnavailable(err, what);
  }
}

/**
 * ioredis's `ReplyError` (an error Redis sent back: a script error, WRONGTYPE…). Its `name`
 * is its class's name, and nothing derives from it: the name identifies it without loading
 * ioredis here.
 */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
