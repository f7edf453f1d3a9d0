import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { SqliteSync } from '../engine/sqlite/sqlite-file.js';
import type { Hub } from '../hub/hub.js';
import { demoTaskModules } from '../tasks/demo/index.js';
import { BullmqExecutor } from '../tasks/executors/bullmq/bullmq-executor.js';
import { EmbeddedExecutor } from '../tasks/executors/embedded/embedded-executor.js';
import type { Executor } from '../tasks/executors/executor.js';
import type { FlyteOptions } from '../tasks/executors/flyte/config.js';
import { LazyFlyte } from '../tasks/executors/flyte/lazy.js';
import { RoutedExecutor } from '../tasks/executors/routed-executor.js';
import { resolveTaskModules } from '../tasks/module-files.js';
import { TaskRegistry } from '../tasks/registry.js';
import { RedisRunStore } from '../tasks/runs/redis-run-store.js';
import { RunService } from '../tasks/runs/run-service.js';
import type { RunStore } from '../tasks/runs/run-store.js';
import { SqliteRunStore } from '../tasks/runs/sqlite-run-store.js';
import type { Logger } from '../util/logger.js';

/** Where a cluster's Redis is, and the key prefix its engine uses (the task runner shares it). */
export interface RedisTarget {
  url: string;
  prefix?: string | undefined;
}

/** The `tasks` option of `createServer`. */
export interface TaskServerOptions {
  /** Task modules: files, directories (every .js/.mjs/.cjs below) or globs. */
  modules?: string[];
  /** Serve the demo tasks (`demo/development/*@v1`). Default true. */
  demo?: boolean;
  /**
   * Worker threads that run tasks in this process. Default: the number of CPUs. With `redis`,
   * 0 means this node runs no jobs (separate `wirehub worker` processes do).
   */
  poolSize?: number;
  /**
   * Runs that may wait before new ones are refused (`queue_full`). Default 1000. With `redis`
   * it bounds the runs queued or running in the whole cluster.
   */
  queueSize?: number;
  /** First retry backoff (doubles each retry). Default 1 s. */
  retryDelayMs?: number;
  /** Grace between a cancel/timeout signal and terminating the task's thread. Default 2 s. */
  abortGraceMs?: number;
  /** Base of run URLs, e.g. `https://hub.example.com`. Default: from each request's Host. */
  publicUrl?: string;
  /** Another executor instead of the embedded one (or, with `redis`, the BullMQ one). */
  executor?: Executor;
  /** Another run store instead of SQLite (or, with `redis`, Redis). */
  store?: RunStore;
  /**
   * How long an ended run (record and updates) is kept; then it is an unknown run. Default
   * 7 days. With `redis`, give every node and worker the same value.
   */
  runRetentionMs?: number;
  /** With `redis`: BullMQ lock duration of jobs this node runs (how fast a dead worker is noticed). Default 30 s. */
  lockDurationMs?: number;
  /** With `redis`: interval of this node's stalled-job check. Default 30 s. */
  stalledIntervalMs?: number;
  /** Where relative module paths start. Default: the process's working directory. */
  cwd?: string;
  /**
   * A Flyte 2 cluster to send runs to: requests for tasks this server does not have (no
   * local task of that project/domain/name) are looked up there and run there. Loaded only
   * when set. See docs/tasks.md, "Flyte 2".
   */
  flyte?: FlyteOptions;
}

/**
 * The task runner inside a server: registry, executor, run store and run service. Embedded
 * (worker threads, SQLite under the data dir) by default; with a Redis URL, runs go to a
 * BullMQ queue that any node or `wirehub worker` runs, and run records live in Redis so
 * every node sees every run.
 */
export class TaskRuntime {
  readonly registry = new TaskRegistry();
  readonly runs: RunService;
  readonly executor: Executor;
  /** Where run records live (its `health`, when it has a file, is part of readiness). */
  readonly store: RunStore;

  constructor(
    private readonly options: TaskServerOptions,
    deps: {
      hub: Hub;
      log: Logger;
      dataDir: string;
      /** The per-user limit on concurrent runs. */
      quota?: { maxPerUser: number };
      /** With a cluster's Redis: run records there, runs on its BullMQ queue. */
      redis?: RedisTarget | undefined;
      /** Most levels of nesting in run inputs (the server's `maxJsonDepth`). */
      maxJsonDepth?: number;
      /** `synchronous` of the embedded run store (runs.db). */
      sqliteSync?: SqliteSync | undefined;
    },
  ) {
    const { redis } = deps;
    const local =
      options.executor ??
      (redis
        ? new BullmqExecutor({
            redis: redis.url,
            prefix: redis.prefix,
            registry: this.registry,
            concurrency: options.poolSize ?? availableParallelism(),
            capacity: Math.max(1, options.queueSize ?? 1000),
            retryDelayMs: options.retryDelayMs,
            abortGraceMs: options.abortGraceMs,
            lockDurationMs: options.lockDurationMs,
            stalledIntervalMs: options.stalledIntervalMs,
            log: deps.log,
          })
        : new EmbeddedExecutor({
            poolSize: options.poolSize,
            queueSize: options.queueSize,
            retryDelayMs: options.retryDelayMs,
            abortGraceMs: options.abortGraceMs,
            log: deps.log,
          }));
    // The one seam for Flyte: a second executor beside the local one, and its task catalog.
    const flyte = options.flyte ? new LazyFlyte(options.flyte, deps.log) : undefined;
    this.executor = flyte ? new RoutedExecutor(local, [flyte]) : local;
    this.store =
      options.store ??
      (redis
        ? new RedisRunStore({ url: redis.url, prefix: redis.prefix, retentionMs: options.runRetentionMs })
        : new SqliteRunStore(join(deps.dataDir, 'runs.db'), {
            retentionMs: options.runRetentionMs,
            ...(deps.sqliteSync ? { sync: deps.sqliteSync } : {}),
            log: deps.log,
          }));
    this.runs = new RunService({
      registry: this.registry,
      executor: this.executor,
      ...(flyte ? { remoteTasks: flyte } : {}),
      store: this.store,
      hub: deps.hub,
      log: deps.log,
      publicUrl: options.publicUrl,
      ...(deps.quota ? { quota: deps.quota } : {}),
      ...(deps.maxJsonDepth === undefined ? {} : { maxJsonDepth: deps.maxJsonDepth }),
    });
  }

  /** Loads the tasks (a duplicate definition or a broken module stops here), then starts runs. */
  async start(): Promise<void> {
    await loadTasks(this.registry, this.options);
    await this.runs.start();
  }

  /**
   * Graceful stop of what runs here (see `Executor.drain`): no new run starts, running
   * attempts get `timeoutMs` to end, and those still running then are interrupted and
   * re-queued (BullMQ: retried by another worker; embedded: at the next start).
   */
  drain(timeoutMs: number): Promise<void> {
    return this.executor.drain(timeoutMs);
  }

  close(): Promise<void> {
    return this.runs.close();
  }
}

/** Registers the demo tasks (unless `demo: false`) and the task modules of `options`. */
export async function loadTasks(
  registry: TaskRegistry,
  options: { modules?: string[]; demo?: boolean; cwd?: string },
): Promise<void> {
  if (options.demo ?? true) for (const module of demoTaskModules) await registry.loadModule(module);
  const files = await resolveTaskModules(options.modules ?? [], options.cwd);
  for (const file of files) await registry.loadModule(file);
}
