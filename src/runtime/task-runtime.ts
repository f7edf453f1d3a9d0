import type { Hub } from '../hub/hub.js';
import type { ServerTasks } from '../server/backends.js';
import type { TaskServerOptions } from '../server/options.js';
import { demoTaskModules } from '../tasks/demo/index.js';
import type { Executor } from '../tasks/executors/executor.js';
import { resolveTaskModules } from '../tasks/module-files.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { type RemoteTaskCatalog, RunService } from '../tasks/runs/run-service.js';
import type { RunStore } from '../tasks/runs/run-store.js';
import type { Logger } from '../util/logger.js';

/**
 * The task runner inside a server: registry, executor, run store and run service. Which
 * executor and store (embedded: worker threads and SQLite under the data dir; with Redis: a
 * BullMQ queue any node or `wirehub worker` runs, and run records in Redis) is chosen by
 * `assembleBackends` (backends.ts); this class wires them to the hub and runs them.
 */
export class TaskRuntime implements ServerTasks {
  readonly registry: TaskRegistry;
  readonly runs: RunService;
  readonly executor: Executor;
  /** Where run records live (its `health`, when it has a file, is part of readiness). */
  readonly store: RunStore;

  constructor(
    private readonly options: TaskServerOptions,
    parts: {
      registry: TaskRegistry;
      executor: Executor;
      store: RunStore;
      /** Re-queue runs nobody holds at start (default true; a `--workers` worker leaves it to the primary). */
      recover?: boolean;
      /** Tasks run elsewhere (Flyte), looked up when the registry has no such task. */
      remoteTasks?: RemoteTaskCatalog | undefined;
      hub: Hub;
      log: Logger;
      /** The per-user limit on concurrent runs. */
      quota?: { maxPerUser: number };
      /** Most levels of nesting in run inputs (the server's `maxJsonDepth`). */
      maxJsonDepth?: number;
    },
  ) {
    this.registry = parts.registry;
    this.executor = parts.executor;
    this.store = parts.store;
    this.runs = new RunService({
      registry: this.registry,
      executor: this.executor,
      ...(parts.remoteTasks ? { remoteTasks: parts.remoteTasks } : {}),
      store: this.store,
      hub: parts.hub,
      log: parts.log,
      publicUrl: options.publicUrl,
      ...(parts.recover === undefined ? {} : { recover: parts.recover }),
      ...(options.orphanGraceMs === undefined ? {} : { lostSweepMs: options.orphanGraceMs }),
      ...(parts.quota ? { quota: parts.quota } : {}),
      ...(parts.maxJsonDepth === undefined ? {} : { maxJsonDepth: parts.maxJsonDepth }),
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
