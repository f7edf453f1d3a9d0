import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { WirehubError } from '../../../protocol/index.js';
import type { Logger } from '../../../util/logger.js';
import { silentLogger } from '../../../util/logger.js';
import type { RunError } from '../../runs/types.js';
import type { ExecutionRequest, Executor, ExecutorListener, ExecutorUpdate } from '../executor.js';
import type { AbortMessage, AttemptJob, AttemptResult, WorkerMessage } from './messages.js';

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
  /** Set when the current attempt's thread said hello. */
  threadId: number | undefined;
  port: MessagePort | undefined;
  /** Aborting it makes piscina drop a queued attempt or terminate the thread running it. */
  kill: AbortController | undefined;
  stop: 'cancel' | 'timeout' | undefined;
  timers: NodeJS.Timeout[];
}

// Worker threads run JavaScript: the built worker.js, or (from the TypeScript sources, as
// under vitest) a small .mjs bootstrap that registers tsx in the thread before importing
// worker.ts. Resolving next to this module keeps both cases free of path guessing.
const ownUrl = import.meta.url;
const workerFile = new URL(
  new URL(ownUrl).pathname.endsWith('.ts') ? './worker-ts-bootstrap.mjs' : './worker.js',
  ownUrl,
).href;

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
  private readonly abortGraceMs: number;
  private readonly log: Logger;
  private readonly runs = new Map<string, RunState>();
  private pool: Piscina<AttemptJob, AttemptResult> | undefined;
  private listener: ExecutorListener | undefined;
  private closed = false;

  constructor(options: EmbeddedExecutorOptions = {}) {
    this.poolSize = options.poolSize ?? availableParallelism();
    this.queueSize = options.queueSize ?? 1000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.abortGraceMs = options.abortGraceMs ?? 2000;
    this.log = options.log ?? silentLogger;
    if (!(Number.isInteger(this.poolSize) && this.poolSize >= 1))
      throw new RangeError('poolSize must be at least 1');
    if (!(Number.isInteger(this.queueSize) && this.queueSize >= 0))
      throw new RangeError('queueSize must be 0 or more');
  }

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
  }

  get active(): number {
    return this.runs.size;
  }

  /** Thread ids of the pool's live worker threads (diagnostics and tests). */
  threadIds(): number[] {
    return this.pool ? this.pool.threads.map((t) => t.threadId) : [];
  }

  async submit(request: ExecutionRequest): Promise<void> {
    if (this.closed) throw new WirehubError('not_ready', 'the task executor is shut down');
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
      threadId: undefined,
      port: undefined,
      kill: undefined,
      stop: undefined,
      timers: [],
    };
    this.runs.set(request.runId, state);
    this.startAttempt(state);
  }

  async cancel(runId: string): Promise<boolean> {
    const state = this.runs.get(runId);
    if (!state) return false;
    if (!state.kill) {
      // Waiting out a retry backoff: nothing is running.
      state.stop = 'cancel';
      this.finish(state, { status: 'ABORTED', message: 'aborted on request', error: abortedError() });
    } else {
      this.requestStop(state, 'cancel');
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const state of this.runs.values()) this.clear(state);
    this.runs.clear();
    await this.pool?.destroy();
  }

  private getPool(): Piscina<AttemptJob, AttemptResult> {
    this.pool ??= new Piscina<AttemptJob, AttemptResult>({
      filename: workerFile,
      // As many threads kept as allowed: piscina replaces a terminated thread (cancel, timeout,
      // crash) only up to minThreads, and with fewer live threads queued runs could wait forever.
      minThreads: this.poolSize,
      maxThreads: this.poolSize,
      // Between tasks a thread waits on its event loop, not on Atomics.wait, so a late
      // port message or timer of a finished task cannot wedge it.
      atomics: 'disabled',
    });
    return this.pool;
  }

  private emit(state: RunState, update: ExecutorUpdate): void {
    if (this.closed || this.runs.get(state.request.runId) !== state) return;
    this.listener?.(state.request.runId, update);
  }

  private describeAttempt(state: RunState): string {
    return `attempt ${state.attempt} of ${state.maxAttempts}`;
  }

  private startAttempt(state: RunState): void {
    const { port1, port2 } = new MessageChannel();
    const kill = new AbortController();
    state.port = port1;
    state.kill = kill;
    state.threadId = undefined;
    port1.on('message', (m: WorkerMessage) => this.onWorkerMessage(state, m));
    const { request } = state;
    const job: AttemptJob = {
      runId: request.runId,
      attempt: state.attempt,
      module: request.task.module,
      exportName: request.task.exportName,
      inputs: request.inputs,
      port: port2,
    };
    this.getPool()
      .run(job, { transferList: [port2], signal: kill.signal })
      .then(
        (result) => this.endAttempt(state, kill, result),
        (err: unknown) =>
          this.endAttempt(state, kill, {
            ok: false,
            aborted: kill.signal.aborted,
            error: {
              kind: 'SYSTEM',
              message: `the worker thread failed: ${err instanceof Error ? err.message : String(err)}`,
            },
          }),
      );
  }

  private onWorkerMessage(state: RunState, m: WorkerMessage): void {
    if (state.stop) return;
    switch (m.type) {
      case 'started': {
        state.threadId = m.threadId;
        this.emit(state, {
          status: 'INITIALIZING',
          message: `loading the task on worker thread ${m.threadId} (${this.describeAttempt(state)})`,
          attempt: state.attempt,
        });
        const timeoutMs = state.request.task.definition.timeoutMs;
        if (timeoutMs !== undefined) {
          state.timers.push(setTimeout(() => this.requestStop(state, 'timeout'), timeoutMs));
        }
        break;
      }
      case 'running':
        this.emit(state, {
          status: 'RUNNING',
          message: `running on worker thread ${state.threadId} (${this.describeAttempt(state)})`,
        });
        break;
      case 'report':
        this.emit(
          state,
          m.progress === undefined
            ? { status: 'RUNNING', message: m.message }
            : { status: 'RUNNING', message: m.message, progress: m.progress },
        );
        break;
      case 'log':
        this.log[m.level]({ run: state.request.runId, task: state.request.task.key, ...m.fields }, m.message);
        break;
    }
  }

  /** Cooperative first (the task's signal fires), then the thread is terminated after the grace. */
  private requestStop(state: RunState, why: 'cancel' | 'timeout'): void {
    if (state.stop || !state.kill) return;
    state.stop = why;
    const kill = state.kill;
    if (state.threadId === undefined) {
      kill.abort();
      return;
    }
    state.port?.postMessage({ type: 'abort', reason: why } satisfies AbortMessage);
    state.timers.push(setTimeout(() => kill.abort(), this.abortGraceMs));
  }

  private endAttempt(state: RunState, kill: AbortController, result: AttemptResult): void {
    if (state.kill !== kill) return;
    // Reports travel on the run's own port, the result on piscina's: take the reports the
    // task sent before returning, so none is lost or arrives after the end.
    const port = state.port;
    if (port) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        this.onWorkerMessage(state, m.message as WorkerMessage);
      }
    }
    this.clear(state);
    state.kill = undefined;
    if (state.stop === 'cancel') {
      this.finish(state, { status: 'ABORTED', message: 'aborted on request', error: abortedError() });
    } else if (state.stop === 'timeout') {
      const ms = state.request.task.definition.timeoutMs;
      const message = `timed out after ${ms} ms (${this.describeAttempt(state)})`;
      this.finish(state, { status: 'TIMED_OUT', message, error: { kind: 'USER', message } });
    } else if (result.ok) {
      this.finish(state, {
        status: 'SUCCEEDED',
        message: 'succeeded',
        outputs: result.outputs,
        progress: 100,
      });
    } else if (state.attempt < state.maxAttempts) {
      this.retry(state, result.error);
    } else {
      this.finish(state, {
        status: 'FAILED',
        message: `failed: ${result.error.message}`,
        error: result.error,
      });
    }
  }

  private retry(state: RunState, error: RunError): void {
    const delay = Math.min(this.retryDelayMs * 2 ** (state.attempt - 1), this.maxRetryDelayMs);
    const failed = this.describeAttempt(state);
    state.attempt += 1;
    this.emit(state, {
      status: 'QUEUED',
      message: `${failed} failed (${error.kind}: ${error.message}); retrying in ${delay} ms`,
      attempt: state.attempt,
    });
    state.timers.push(
      setTimeout(() => {
        if (this.runs.get(state.request.runId) === state && !state.stop) this.startAttempt(state);
      }, delay),
    );
  }

  private finish(state: RunState, update: ExecutorUpdate): void {
    this.emit(state, update);
    this.clear(state);
    if (this.runs.get(state.request.runId) === state) this.runs.delete(state.request.runId);
  }

  private clear(state: RunState): void {
    for (const t of state.timers) clearTimeout(t);
    state.timers = [];
    state.port?.close();
    state.port = undefined;
  }
}

function abortedError(): RunError {
  return { kind: 'USER', message: 'aborted on request' };
}
