import type { LimitStore } from '../engine/limits.js';
import type { Hub } from '../hub/hub.js';
import type { Executor } from '../tasks/executors/executor.js';
import type { TaskRegistry } from '../tasks/registry.js';
import type { RunService } from '../tasks/runs/run-service.js';
import type { RunStore } from '../tasks/runs/run-store.js';
import type { Logger } from '../util/logger.js';
import type { ResolvedServerOptions } from './options.js';

/**
 * What a server needs of its task runner (src/runtime/task-runtime.ts builds it): the
 * registry and run service its routes and endpoints use, the store whose health is part of
 * readiness, and its lifecycle.
 */
export interface ServerTasks {
  readonly registry: TaskRegistry;
  readonly runs: RunService;
  readonly executor: Executor;
  /** Where run records live (its `health`, when it has a file, is part of readiness). */
  readonly store: RunStore;
  /** Loads the tasks, then starts runs. */
  start(): Promise<void>;
  /** Graceful stop of what runs here (see `Executor.drain`). */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** How many worker processes a `--workers` server has running, and how many it wants. */
export interface WorkerCount {
  alive: number;
  wanted: number;
}

/**
 * What a server that is one worker process of `wirehub serve --workers N` knows of the
 * others (src/runtime/workers builds it): its id, the worker count `/healthz` and `/readyz`
 * report, and the whole server's metrics (every worker's, aggregated by the primary), which
 * `/metrics` answers whichever worker a scrape lands on.
 */
export interface WorkerRole {
  /** This worker's id (the primary's cluster id: 1…N, more after restarts). */
  readonly id: number;
  workers(): WorkerCount;
  metrics(): Promise<{ contentType: string; text: string }>;
}

/** The backends a server runs on, assembled from its options. */
export interface ServerBackends {
  /** The hub, on the engine the options chose (embedded SQLite, Redis, or the one given). */
  hub: Hub;
  /** Where connection and rate limit state lives. */
  limitStore: LimitStore;
  /** The task runner, unless `tasks: false`. */
  tasks: ServerTasks | undefined;
  /** Set when this server is one worker process of several (`--workers`). */
  worker?: WorkerRole | undefined;
}

/**
 * Turns resolved options into backends. The server calls it once, in its constructor, after
 * the options passed their checks, with its logger. src/runtime/ provides the one
 * implementation (`createServer` passes it); server/ never chooses a backend itself, so it
 * stays free of SQLite, Redis and BullMQ.
 */
export type BackendAssembler = (options: ResolvedServerOptions, log: Logger) => ServerBackends;
