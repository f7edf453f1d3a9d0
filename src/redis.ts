/**
 * `wirehub/redis`: the Redis engine, the Redis run store and the BullMQ executor, for
 * programs that build their own backends. `createServer({ redis })` and `createWorker` load
 * this module by themselves when given `redis`; the root `wirehub` import never loads
 * ioredis or BullMQ.
 *
 * @example
 * ```ts
 * import { createServer } from 'wirehub';
 * import { RedisEngine } from 'wirehub/redis';
 * const server = await createServer({ engine: new RedisEngine({ url: 'redis://127.0.0.1:6379' }) });
 * await server.listen();
 * ```
 */
export * from './runtime/redis-backends.js';
