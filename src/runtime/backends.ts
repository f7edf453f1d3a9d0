import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { IpcEngine } from '../engine/ipc/ipc-engine.js';
import { IpcLimitStore } from '../engine/ipc/ipc-limit-store.js';
import type { RpcPeer } from '../engine/ipc/rpc.js';
import type { LimitStore } from '../engine/limits.js';
import { MemoryLimitStore } from '../engine/memory/memory-limit-store.js';
import { type RedisTarget, redisTarget } from '../engine/redis/connection.js';
import { SqliteEngine } from '../engine/sqlite/sqlite-engine.js';
import type { Engine } from '../engine/types.js';
import { Hub } from '../hub/hub.js';
import type { BackendAssembler, ServerBackends } from '../server/backends.js';
import type { ResolvedServerOptions, ServerOptions, TaskServerOptions } from '../server/options.js';
import { EmbeddedExecutor } from '../tasks/executors/embedded/embedded-executor.js';
import type { Executor } from '../tasks/executors/executor.js';
import { LazyFlyte } from '../tasks/executors/flyte/lazy.js';
import { IpcExecutor } from '../tasks/executors/ipc-executor.js';
import { RoutedExecutor } from '../tasks/executors/routed-executor.js';
import { TaskRegistry } from '../tasks/registry.js';
import { IpcRunStore } from '../tasks/runs/ipc-run-store.js';
import type { RunStore } from '../tasks/runs/run-store.js';
import { SqliteRunStore } from '../tasks/runs/sqlite-run-store.js';
import type { Logger } from '../util/logger.js';
import { TaskRuntime } from './task-runtime.js';

/** The Redis backends module (`wirehub/redis`), loaded on demand. */
export type RedisBackends = typeof import('./redis-backends.js');

/** Loads the Redis engine, run store and BullMQ executor (and with them ioredis and BullMQ). */
export function loadRedisBackends(): Promise<RedisBackends> {
  return import('./redis-backends.js');
}

/**
 * Loads the optional modules `options` need (Redis and BullMQ only with `redis`) and
 * returns the assembler a `WirehubServer` calls. This is the seam where a backend is
 * chosen: the embedded one, Redis, and whatever comes next (`--workers`, other transports)
 * plug in here and nowhere else.
 */
export async function backendAssembler(options: ServerOptions): Promise<BackendAssembler> {
  const redis = options.redis === undefined ? undefined : await loadRedisBackends();
  return (resolved, log) => assembleBackends(resolved, { log, redis });
}

/**
 * Turns resolved server options into backends:
 * - embedded (default): SQLite engine (`<dataDir>/channels.db`), SQLite run store
 *   (`<dataDir>/runs.db`), the embedded executor (worker threads), limits in memory;
 * - `redis`: the Redis engine, the Redis run store, the BullMQ executor (the Redis module
 *   must have been loaded: pass it as `redis`), limits in memory;
 * - `engine`, `limitStore`, `tasks.executor`, `tasks.store`: yours instead;
 * - `tasks.flyte`: Flyte beside the local executor (requests for tasks this server does not
 *   have go there);
 * - `primary` (a worker process of `--workers`, without `redis`): the engine, the run store,
 *   the executor and the limits are the primary's, over IPC (see src/runtime/workers/).
 *
 * @example
 * ```ts
 * const redis = await loadRedisBackends();
 * const { hub, tasks } = assembleBackends(resolveServerOptions({ redis: 'redis://127.0.0.1:6379' }), { log, redis });
 * ```
 */
export function assembleBackends(
  o: ResolvedServerOptions,
  deps: { log: Logger; redis?: RedisBackends | undefined; primary?: RpcPeer | undefined },
): ServerBackends {
  const { log } = deps;
  const redis =
    o.redis === undefined ? undefined : { target: redisTarget(o.redis), module: need(deps.redis) };
  // A worker of `--workers` on the embedded stores: they live in the primary.
  const primary = redis ? undefined : deps.primary;
  const engine: Engine =
    o.engine ??
    (redis
      ? new redis.module.RedisEngine({ log, ...redis.target })
      : primary
        ? new IpcEngine(primary)
        : new SqliteEngine({ file: join(o.dataDir, 'channels.db'), sync: o.sqliteSync, log }));
  const hub = new Hub(engine, {
    namespaces: o.namespaces ?? [],
    maxChannelsPerConnection: o.maxChannelsPerConnection,
    presenceTtlMs: o.presenceTtlMs,
    log,
  });
  const limitStore: LimitStore =
    o.limitStore ?? (primary ? new IpcLimitStore(primary) : new MemoryLimitStore());
  const tasks =
    o.tasks === false
      ? undefined
      : assembleTasks(o.tasks, {
          hub,
          log,
          dataDir: o.dataDir,
          redis,
          primary,
          quota: { maxPerUser: o.limits.maxRunsPerUser },
          maxJsonDepth: o.maxJsonDepth,
          sqliteSync: o.sqliteSync,
        });
  return { hub, limitStore, tasks };
}

function need(module: RedisBackends | undefined): RedisBackends {
  if (module) return module;
  throw new Error('the Redis backends are not loaded: pass `redis: await loadRedisBackends()`');
}

/** The task runner's executor and run store, chosen as `assembleBackends` says. */
function assembleTasks(
  options: TaskServerOptions,
  deps: {
    hub: Hub;
    log: Logger;
    dataDir: string;
    redis: { target: RedisTarget & { prefix: string }; module: RedisBackends } | undefined;
    primary: RpcPeer | undefined;
    quota: { maxPerUser: number };
    maxJsonDepth: number;
    sqliteSync: ResolvedServerOptions['sqliteSync'];
  },
): TaskRuntime {
  const { redis, log, primary } = deps;
  const registry = new TaskRegistry();
  const local: Executor =
    options.executor ??
    (primary
      ? new IpcExecutor(primary)
      : redis
        ? new redis.module.BullmqExecutor({
            redis: redis.target.url,
            prefix: redis.target.prefix,
            registry,
            concurrency: options.poolSize ?? availableParallelism(),
            capacity: Math.max(1, options.queueSize ?? 1000),
            retryDelayMs: options.retryDelayMs,
            abortGraceMs: options.abortGraceMs,
            lockDurationMs: options.lockDurationMs,
            stalledIntervalMs: options.stalledIntervalMs,
            orphanGraceMs: options.orphanGraceMs,
            log,
          })
        : new EmbeddedExecutor({
            poolSize: options.poolSize,
            queueSize: options.queueSize,
            retryDelayMs: options.retryDelayMs,
            abortGraceMs: options.abortGraceMs,
            log,
          }));
  // The one seam for Flyte: a second executor beside the local one, and its task catalog.
  const flyte = options.flyte ? new LazyFlyte(options.flyte, log) : undefined;
  const store: RunStore =
    options.store ??
    (primary
      ? new IpcRunStore(primary)
      : redis
        ? new redis.module.RedisRunStore({
            url: redis.target.url,
            prefix: redis.target.prefix,
            retentionMs: options.runRetentionMs,
          })
        : new SqliteRunStore(join(deps.dataDir, 'runs.db'), {
            retentionMs: options.runRetentionMs,
            sync: deps.sqliteSync,
            log,
          }));
  return new TaskRuntime(options, {
    registry,
    // Under `--workers` the primary runs every run (Flyte's too) and recovers interrupted ones.
    executor: flyte && !primary ? new RoutedExecutor(local, [flyte]) : local,
    recover: !primary,
    remoteTasks: flyte,
    store,
    hub: deps.hub,
    log,
    quota: deps.quota,
    maxJsonDepth: deps.maxJsonDepth,
  });
}
