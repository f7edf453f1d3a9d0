import { availableParallelism } from 'node:os';
import { redisTarget } from '../engine/redis/connection.js';
import type { RedisEngineOptions } from '../engine/redis/redis-engine.js';
import { Hub } from '../hub/hub.js';
import { LastResort } from '../server/last-resort.js';
import { createPinoLogger, type LogFormat } from '../server/pino-logger.js';
import type { BullmqExecutor } from '../tasks/executors/bullmq/bullmq-executor.js';
import { TaskRegistry } from '../tasks/registry.js';
import { RunService } from '../tasks/runs/run-service.js';
import type { Logger } from '../util/logger.js';
import { loadRedisBackends, type RedisBackends } from './backends.js';
import { loadTasks } from './task-runtime.js';

export interface WorkerNodeOptions {
  /** The cluster's Redis: a URL or the engine's options (same URL and prefix as the nodes). */
  redis: string | RedisEngineOptions;
  /** Task modules: files, directories or globs (as `serve --tasks`). */
  modules?: string[];
  /** Load the demo tasks too. Default true (nodes always offer them). */
  demo?: boolean;
  /** Jobs run at once, each on its own worker thread. Default: the number of CPUs. */
  concurrency?: number;
  /** Which worker this is in run updates. Default `<host>:<pid>:<random>`. */
  name?: string;
  /** Grace between a cancel/timeout signal and terminating the task's thread. Default 2 s. */
  abortGraceMs?: number;
  /** How long this worker's hold on a job lasts without renewal. Default 30 s. */
  lockDurationMs?: number;
  /** Interval of this worker's stalled-job check. Default 30 s. */
  stalledIntervalMs?: number;
  /** How long a run this worker ends is kept (as the nodes' `runRetentionMs`). Default 7 days. */
  runRetentionMs?: number;
  /** pino level. Default `info`. */
  logLevel?: string;
  /** `json` (default) or `pretty` (readable lines for a terminal). */
  logFormat?: LogFormat;
  /** Another logger instead of pino on stdout. */
  log?: Logger;
  /** Where relative module paths start. Default: the working directory. */
  cwd?: string;
  /**
   * Once started, log uncaught exceptions and unhandled rejections and keep running (see
   * `LastResort`). Default false; `wirehub worker` turns it on.
   */
  handleUncaughtErrors?: boolean;
}

/**
 * `wirehub worker`: runs the jobs of the cluster's run queue and nothing else (no HTTP, no
 * WebSockets). It is a node without sockets: its run service stores each update in Redis
 * and publishes it on `run:<id>` through the Redis engine, so every node's watchers get it.
 * It never re-queues interrupted runs itself (the nodes do, at their start).
 *
 * @example
 * ```ts
 * import { createWorker } from 'wirehub';
 * const worker = await createWorker({ redis: 'redis://127.0.0.1:6379', modules: ['./tasks'], concurrency: 4 });
 * await worker.start();
 * process.once('SIGTERM', () => void worker.drain(30_000).then(() => process.exit(0)));
 * ```
 */
export class WorkerNode {
  readonly registry = new TaskRegistry();
  readonly hub: Hub;
  readonly executor: BullmqExecutor;
  readonly runs: RunService;
  readonly log: Logger;
  /** The last-resort handlers, when `handleUncaughtErrors` is on (their `stats` count what they caught). */
  readonly lastResort: LastResort | undefined;
  private stopped: Promise<void> | undefined;

  /**
   * Use `createWorker(options)`: it loads the Redis backends (`loadRedisBackends()`) and
   * passes them here.
   */
  constructor(
    private readonly options: WorkerNodeOptions,
    backends: RedisBackends,
  ) {
    const { RedisEngine, BullmqExecutor, RedisRunStore } = backends;
    const redis = redisTarget(options.redis);
    this.log = options.log ?? createPinoLogger(options.logLevel ?? 'info', options.logFormat);
    this.hub = new Hub(new RedisEngine({ log: this.log, ...redis }), { log: this.log });
    this.lastResort = options.handleUncaughtErrors ? new LastResort(this.log, 'worker') : undefined;
    this.executor = new BullmqExecutor({
      redis: redis.url,
      prefix: redis.prefix,
      registry: this.registry,
      concurrency: options.concurrency ?? availableParallelism(),
      abortGraceMs: options.abortGraceMs,
      lockDurationMs: options.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs,
      name: options.name,
      log: this.log,
    });
    this.runs = new RunService({
      registry: this.registry,
      executor: this.executor,
      store: new RedisRunStore({ url: redis.url, prefix: redis.prefix, retentionMs: options.runRetentionMs }),
      hub: this.hub,
      recover: false,
      log: this.log,
    });
  }

  get name(): string {
    return this.executor.name;
  }

  /** Loads the tasks, connects, and starts taking jobs. */
  async start(): Promise<void> {
    await loadTasks(this.registry, this.options);
    await this.hub.start();
    await this.runs.start();
    // Only now: an error while starting must still stop the process.
    this.lastResort?.install();
  }

  /**
   * Stops taking jobs; running attempts get up to `timeoutMs` to finish, then are interrupted
   * and handed back to the queue (retried by another worker when attempts remain).
   */
  drain(timeoutMs: number): Promise<void> {
    this.stopped ??= (async () => {
      await this.executor.drain(timeoutMs);
      await this.runs.close();
      await this.hub.close();
      this.lastResort?.uninstall();
    })();
    return this.stopped;
  }

  /** Stops at once: running attempts are abandoned; their jobs stall and are retried elsewhere. */
  close(): Promise<void> {
    this.stopped ??= (async () => {
      await this.runs.close();
      await this.hub.close();
      this.lastResort?.uninstall();
    })();
    return this.stopped;
  }
}

/** Creates a worker (not yet started). */
export async function createWorker(options: WorkerNodeOptions): Promise<WorkerNode> {
  return new WorkerNode(options, await loadRedisBackends());
}
