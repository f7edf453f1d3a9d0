import { availableParallelism } from 'node:os';
import { WirehubError } from '../../../protocol/index.js';
import type { Logger } from '../../../util/logger.js';
import { silentLogger } from '../../../util/logger.js';
import type { RunError } from '../../runs/types.js';
import type { ExecutionRequest, Executor, ExecutorListener, ExecutorUpdate } from '../executor.js';
import { type AttemptEnd, type AttemptHandle, AttemptPool } from './attempt-pool.js';
import { retryDelay } from './retry-delay.js';

export interface EmbeddedExecutorOptions {
  /** Worker threads. Default: the number of CPUs. */
  poolSize?: number;
  /** Runs that may wait for a thread; one more is refused with `queue_full`. Default 1000. */
  queueSize?: number;
  /** Backoff before the first retry; doubles for each further one. Default 1 s. */
  retryDelayMs?: number;
  /** Longest backoff. Default 30 s. */
  maxRetryDelayMs?: number;
  /**
   * After a cancel or a timeout the task's `signal` fires; a task still running this much
   * later has its worker thread terminated. Default 2 s.
   */
  abortGraceMs?: number;
  log?: Logger;
}

interface RunState {
  readonly request: ExecutionRequest;
  readonly maxAttempts: number;
  attempt: number;
  /** The attempt on a thread (or waiting for one); undefined while waiting out a backoff. */
  handle: AttemptHandle | undefined;
  /** The current attempt got on a thread (it said INITIALIZING). */
  onThread: boolean;
  cancelled: boolean;
  backoff: NodeJS.Timeout | undefined;
}

/**
 * Runs tasks on worker threads (piscina) in this process: a CPU-heavy task never stalls
 * the sockets. Bounded queue, per-attempt timeouts, retries with exponential backoff, and
 * cancels that really stop the task (its signal fires; after a grace the thread is
 * terminated).
 *
 * @example
 * ```ts
 * const executor = new EmbeddedExecutor({ poolSize: 2, queueSize: 100 });
 * await executor.start((runId, update) => console.log(runId, update.status, update.message));
 * await executor.submit({ runId: 'r-1', task: registry.resolve(ref)!, inputs: { n: 3 }, attempt: 1 });
 * ```
 */
export class EmbeddedExecutor implements Executor {
  readonly kind = 'embedded';
  readonly poolSize: number;
  readonly queueSize: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly pool: AttemptPool;
  private readonly runs = new Map<string, RunState>();
  private listener: ExecutorListener | undefined;
  private closed = false;
  /** Set by `drain()`: no run is accepted and no attempt starts any more. */
  private draining = false;
  private drained: Promise<void> | undefined;
  /** Resolved by `finish()` when the last run leaves while draining. */
  private onIdle: (() => void) | undefined;

  constructor(options: EmbeddedExecutorOptions = {}) {
    this.poolSize = options.poolSize ?? availableParallelism();
    this.queueSize = options.queueSize ?? 1000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    if (!(Number.isInteger(this.poolSize) && this.poolSize >= 1))
      throw new RangeError('poolSize must be at least 1');
    if (!(Number.isInteger(this.queueSize) && this.queueSize >= 0))
      throw new RangeError('queueSize must be 0 or more');
    this.pool = new AttemptPool({
      size: this.poolSize,
      abortGraceMs: options.abortGraceMs ?? 2000,
      log: options.log ?? silentLogger,
    });
  }

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
  }

  get active(): number {
    return this.runs.size;
  }

  /** Thread ids of the pool's live worker threads (diagnostics and tests). */
  threadIds(): number[] {
    return this.pool.threadIds();
  }

  async submit(request: ExecutionRequest): Promise<void> {
    if (this.closed) throw new WirehubError('not_ready', 'the task executor is shut down');
    if (this.draining) throw new WirehubError('not_ready', 'this node is shutting down; try another node');
    if (this.runs.has(request.runId)) throw new Error(`run ${request.runId} was already submitted`);
    if (this.runs.size >= this.poolSize + this.queueSize) {
      throw new WirehubError(
        'queue_full',
        `the run queue is full (${this.poolSize} running, ${this.queueSize} waiting); try again later`,
        { running: this.poolSize, queued: this.queueSize },
      );
    }
    const state: RunState = {
      request,
      maxAttempts: (request.task.definition.retries ?? 0) + 1,
      attempt: request.attempt,
      handle: undefined,
      onThread: false,
      cancelled: false,
      backoff: undefined,
    };
    this.runs.set(request.runId, state);
    this.startAttempt(state);
  }

  async cancel(runId: string): Promise<boolean> {
    const state = this.runs.get(runId);
    if (!state) return false;
    state.cancelled = true;
    if (state.handle) state.handle.stop('cancel');
    else this.finish(state, abortedUpdate()); // waiting out a retry backoff: nothing is running
    return true;
  }

  /**
   * Graceful stop: no run is accepted and no attempt starts any more. Runs that have not got
   * on a thread (waiting for one, or waiting out a retry backoff) are dropped without an
   * update, so they stay QUEUED in the run store and the next start picks them up at the same
   * attempt. Attempts on a thread get `timeoutMs` to end; one still running then is stopped
   * (its signal, then its thread) and counts as a failed attempt: re-queued at the next
   * attempt for the next start when it has one left, else FAILED with a SYSTEM error.
   */
  drain(timeoutMs: number): Promise<void> {
    this.drained ??= this.runDrain(timeoutMs);
    return this.drained;
  }

  private async runDrain(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    for (const state of [...this.runs.values()]) {
      if (state.onThread) continue;
      clearTimeout(state.backoff);
      state.handle?.stop('shutdown');
      this.runs.delete(state.request.runId);
    }
    if (this.runs.size > 0) {
      const idle = new Promise<void>((resolve) => {
        this.onIdle = resolve;
      });
      const deadline = setTimeout(() => {
        for (const state of this.runs.values()) state.handle?.stop('shutdown');
      }, timeoutMs);
      await idle;
      clearTimeout(deadline);
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const state of this.runs.values()) clearTimeout(state.backoff);
    this.runs.clear();
    await this.pool.destroy();
  }

  private emit(state: RunState, update: ExecutorUpdate): void {
    if (this.closed || this.runs.get(state.request.runId) !== state) return;
    // The run service logs a storage failure; nothing here depends on the answer.
    this.listener?.(state.request.runId, update)?.catch(() => {});
  }

  private describeAttempt(state: RunState): string {
    return `attempt ${state.attempt} of ${state.maxAttempts}`;
  }

  private startAttempt(state: RunState): void {
    const { request } = state;
    const handle = this.pool.run(
      {
        runId: request.runId,
        task: request.task,
        inputs: request.inputs,
        attempt: state.attempt,
        maxAttempts: state.maxAttempts,
      },
      (update) => {
        if (update.status === 'INITIALIZING') state.onThread = true;
        this.emit(state, update);
      },
    );
    state.handle = handle;
    state.onThread = false;
    handle.done.then((end) => {
      if (state.handle === handle) this.endAttempt(state, end);
    });
  }

  private endAttempt(state: RunState, end: AttemptEnd): void {
    state.handle = undefined;
    if (end.kind === 'stopped' && end.why === 'timeout') {
      const ms = state.request.task.definition.timeoutMs;
      const message = `timed out after ${ms} ms (${this.describeAttempt(state)})`;
      this.finish(state, { status: 'TIMED_OUT', message, error: { kind: 'USER', message } });
    } else if (end.kind === 'stopped' && end.why === 'shutdown' && !state.cancelled) {
      const message = 'interrupted: the server shut down';
      if (state.attempt < state.maxAttempts) this.retry(state, { kind: 'SYSTEM', message });
      else
        this.finish(state, {
          status: 'FAILED',
          message: `failed: ${message}`,
          error: { kind: 'SYSTEM', message },
        });
    } else if (end.kind === 'stopped' || state.cancelled) {
      this.finish(state, abortedUpdate());
    } else if (end.kind === 'succeeded') {
      this.finish(state, { status: 'SUCCEEDED', message: 'succeeded', outputs: end.outputs, progress: 100 });
    } else if (state.attempt < state.maxAttempts) {
      this.retry(state, end.error);
    } else {
      this.finish(state, { status: 'FAILED', message: `failed: ${end.error.message}`, error: end.error });
    }
  }

  private retry(state: RunState, error: RunError): void {
    const failed = this.describeAttempt(state);
    state.attempt += 1;
    if (this.draining) {
      // No attempt starts any more here: the run waits, QUEUED at its next attempt, for the next start.
      this.finish(state, {
        status: 'QUEUED',
        message: `${failed} failed (${error.kind}: ${error.message}); re-queued for the next start`,
        attempt: state.attempt,
      });
      return;
    }
    const delay = retryDelay(state.attempt - 1, this.retryDelayMs, this.maxRetryDelayMs);
    this.emit(state, {
      status: 'QUEUED',
      message: `${failed} failed (${error.kind}: ${error.message}); retrying in ${delay} ms`,
      attempt: state.attempt,
    });
    state.backoff = setTimeout(() => {
      state.backoff = undefined;
      if (this.runs.get(state.request.runId) === state && !state.cancelled) this.startAttempt(state);
    }, delay);
  }

  private finish(state: RunState, update: ExecutorUpdate): void {
    this.emit(state, update);
    clearTimeout(state.backoff);
    if (this.runs.get(state.request.runId) === state) this.runs.delete(state.request.runId);
    if (this.draining && this.runs.size === 0) this.onIdle?.();
  }
}

function abortedUpdate(): ExecutorUpdate {
  return { status: 'ABORTED', message: 'aborted on request', error: abortedError() };
}

function abortedError(): RunError {
  return { kind: 'USER', message: 'aborted on request' };
}
