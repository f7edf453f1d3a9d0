/**
 * The Redis backends: the engine, the run store and the BullMQ executor. Nothing imports
 * this module statically: `loadRedisBackends()` (backends.ts) loads it with `import()` when
 * a server or worker is given `redis`, so `import('wirehub')` never loads ioredis or BullMQ.
 * Users reach it as the `wirehub/redis` subpath (src/redis.ts).
 */
export {
  DEFAULT_REDIS_PREFIX,
  type RedisTarget,
  redisClientName,
  redisTarget,
} from '../engine/redis/connection.js';
export { RedisEngine, type RedisEngineOptions } from '../engine/redis/redis-engine.js';
export {
  BullmqExecutor,
  type BullmqExecutorOptions,
} from '../tasks/executors/bullmq/bullmq-executor.js';
export { RedisRunStore, type RedisRunStoreOptions } from '../tasks/runs/redis/store.js';
