import type { RegisteredTask } from '../registry.js';
import type { RunError, RunStatus } from '../runs/types.js';

/** One run handed to an executor. Its inputs already passed the task's inputs schema. */
export interface ExecutionRequest {
  runId: string;
  task: RegisteredTask;
  inputs: unknown;
  /**
   * The attempt to start with, 1-based: more than 1 when a run is re-queued after a
   * restart. The executor retries up to the task's `retries + 1` attempts in all.
   */
  attempt: number;
}

/**
 * A step of a run as an executor sees it. The run service gives it a sequence number and a
 * time, checks the transition, stores it and publishes it.
 *
 * - `INITIALIZING` when an attempt is picked up (carries `attempt`), `RUNNING` when the
 *   task's code starts, `RUNNING` again for each `report()` (with `progress` if given);
 * - `QUEUED` (with the next `attempt`) when a failed attempt will be retried after a backoff;
 * - one terminal status at the end: `SUCCEEDED` with `outputs`, or `FAILED`, `ABORTED`,
 *   `TIMED_OUT` with `error`.
 */
export interface ExecutorUpdate {
  status: RunStatus;
  message: string;
  progress?: number;
  attempt?: number;
  outputs?: unknown;
  error?: RunError;
}

/** Receives every update of every run the executor runs. */
export type ExecutorListener = (runId: string, update: ExecutorUpdate) => void;

/**
 * Runs tasks somewhere else than the event loop: worker threads (embedded), Redis workers
 * (BullMQ), a Flyte cluster. Every executor passes the same conformance suite
 * (`test/support/executor-conformance.ts`): submit, the update stream, cancel, timeouts,
 * retries, the bounded queue and concurrency.
 *
 * Contract:
 * - `submit` resolves once the run is accepted, or rejects with `WirehubError('queue_full')`
 *   (nothing is emitted for a refused run). Updates may start before `submit` resolves.
 * - After accepting a run the executor emits exactly one terminal update for it, unless it
 *   is closed first.
 * - `cancel` resolves true when the run was known and not yet ended; an ABORTED update
 *   follows (the task is really stopped, not just forgotten).
 * - After `close()` no update is emitted.
 */
export interface Executor {
  readonly kind: string;
  /** Registers the one listener and gets ready. */
  start(listener: ExecutorListener): Promise<void>;
  submit(request: ExecutionRequest): Promise<void>;
  cancel(runId: string): Promise<boolean>;
  /** Runs accepted and not yet ended. */
  readonly active: number;
  close(): Promise<void>;
}
