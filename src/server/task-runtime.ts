import { join } from 'node:path';
import type { LimitStore } from '../engine/limits.js';
import type { Hub } from '../hub/hub.js';
import { demoTaskModules } from '../tasks/demo/index.js';
import { EmbeddedExecutor } from '../tasks/executors/embedded/embedded-executor.js';
import type { Executor } from '../tasks/executors/executor.js';
import { resolveTaskModules } from '../tasks/module-files.js';
import { TaskRegistry } from '../tasks/registry.js';
import { RunService } from '../tasks/runs/run-service.js';
import { RunStore } from '../tasks/runs/run-store.js';
import type { Logger } from '../util/logger.js';

/** The `tasks` option of `createServer`. */
export interface TaskServerOptions {
  /** Task modules: files, directories (every .js/.mjs/.cjs below) or globs. */
  modules?: string[];
  /** Serve the demo tasks (`demo/development/*@v1`). Default true. */
  demo?: boolean;
  /** Worker threads of the embedded executor. Default: the number of CPUs. */
  poolSize?: number;
  /** Runs that may wait for a thread before new ones are refused (`queue_full`). Default 1000. */
  queueSize?: number;
  /** First retry backoff of the embedded executor (doubles each retry). Default 1 s. */
  retryDelayMs?: number;
  /** Grace between a cancel/timeout signal and terminating the task's thread. Default 2 s. */
  abortGraceMs?: number;
  /** Base of run URLs, e.g. `https://hub.example.com`. Default: from each request's Host. */
  publicUrl?: string;
  /** Another executor instead of the embedded one. */
  executor?: Executor;
  /** Where relative module paths start. Default: the process's working directory. */
  cwd?: string;
}

/** The task runner inside a server: registry, executor, run store and run service. */
export class TaskRuntime {
  readonly registry = new TaskRegistry();
  readonly runs: RunService;

  constructor(
    private readonly options: TaskServerOptions,
    deps: {
      hub: Hub;
      log: Logger;
      dataDir: string;
      /** The per-user limit on concurrent runs. */
      quota?: { store: LimitStore; maxPerUser: number };
    },
  ) {
    const executor =
      options.executor ??
      new EmbeddedExecutor({
        poolSize: options.poolSize,
        queueSize: options.queueSize,
        retryDelayMs: options.retryDelayMs,
        abortGraceMs: options.abortGraceMs,
        log: deps.log,
      });
    this.runs = new RunService({
      registry: this.registry,
      executor,
      store: new RunStore(join(deps.dataDir, 'runs.db')),
      hub: deps.hub,
      log: deps.log,
      publicUrl: options.publicUrl,
      ...(deps.quota ? { quota: deps.quota } : {}),
    });
  }

  /** Loads the tasks (a duplicate definition or a broken module stops here), then starts runs. */
  async start(): Promise<void> {
    if (this.options.demo ?? true)
      for (const module of demoTaskModules) await this.registry.loadModule(module);
    const files = await resolveTaskModules(this.options.modules ?? [], this.options.cwd);
    for (const file of files) await this.registry.loadModule(file);
    await this.runs.start();
  }

  close(): Promise<void> {
    return this.runs.close();
  }
}
