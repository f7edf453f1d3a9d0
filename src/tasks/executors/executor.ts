import type { RegisteredTask } from '../registry.js';
import type { ExternalRun, RunError, RunRecord, RunStatus } from '../runs/types.js';

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
  /**
   * The attempt this update comes from. Executors whose attempts may outlive their lease (a
   * BullMQ worker cut off from Redis while another worker took the job over) set it, so an
   * update from an attempt older than the run's current one is refused.
   */
  fromAttempt?: number;
  outputs?: unknown;
  error?: RunError;
}

/**
 * Receives every update the executor emits. The run service's listener resolves true when it
 * stored the update and false when it refused it (the run already ended, or the update comes
 * from an attempt that is no longer the run's); an executor that must not run a task for a
 * run that ended elsewhere waits for that answer before it starts the task's code.
 */
export type ExecutorListener = (runId: string, update: ExecutorUpdate) => Promise<boolean> | undefined;

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
 *   is closed first. A distributed executor (BullMQ) emits each update from the process that
 *   holds the run at that moment (the worker running its attempt, or the node that cancelled
 *   it while it waited), so "the executor" is all its instances together.
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
  /** Runs accepted and not yet ended (for a distributed executor: in the whole cluster, as last seen). */
  readonly active: number;
  /**
   * Of these unfinished runs (read from the run store after a start), the ones no instance of
   * the executor holds any more: the run service re-queues or fails them. Without it, every
   * unfinished run counts as orphaned (an in-process executor starts empty).
   */
  orphaned?<R extends RunRecord>(runs: R[]): Promise<R[]>;
  /**
   * Of these unfinished runs, the ones whose attempt was lost while the cluster kept running
   * (a Redis that came back without the job: its persistence lost the last writes). The run
   * service asks every `orphanGraceMs` and re-queues or fails them, as after a restart.
   * Executors that cannot tell from outside (an in-process one) do not have it.
   */
  lost?<R extends RunRecord>(runs: R[]): Promise<R[]>;
  /**
   * The run in another engine that `submit` will create for this run (a Flyte run), known
   * before it is submitted: the run service stores it with the run, so a restart finds the run
   * again (see `orphaned`) and links show its console page. Undefined for runs that run here.
   */
  externalRun?(runId: string, task: RegisteredTask): ExternalRun | undefined;
  /**
   * Graceful stop of what runs in this process, then `close()`. No new run is taken here;
   * runs that have not started here get no update (they stay QUEUED, for the next start or
   * another worker); attempts running get up to `timeoutMs` to end, and one still running
   * then is interrupted: QUEUED at its next attempt when it has one left (retried later,
   * elsewhere or at the next start), else FAILED with a SYSTEM error.
   */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
