import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../../../util/logger.js';
import { silentLogger } from '../../../util/logger.js';
import type { RegisteredTask } from '../../registry.js';
import type { RunError } from '../../runs/types.js';
import type { ExecutorUpdate } from '../executor.js';
import type { AbortMessage, AttemptJob, AttemptResult, WorkerMessage } from './messages.js';

/** Why an attempt was stopped from outside. */
export type StopReason = 'cancel' | 'timeout' | 'shutdown';

/** One attempt of a run, as the pool runs it. */
export interface AttemptSpec {
  runId: string;
  task: RegisteredTask;
  inputs: unknown;
  /** This attempt, 1-based, and how many the run may have (for messages). */
  attempt: number;
  maxAttempts: number;
}

/** How an attempt ended. `stopped`: it was stopped (`cancel`, `timeout`, `shutdown`), not failed. */
export type AttemptEnd =
  | { kind: 'succeeded'; outputs: unknown }
  | { kind: 'failed'; error: RunError }
  | { kind: 'stopped'; why: StopReason };

/** A running attempt. */
export interface AttemptHandle {
  readonly done: Promise<AttemptEnd>;
  /** Stops it: the task's signal fires; a task still running after the grace loses its thread. */
  stop(why: StopReason): void;
}

export interface AttemptPoolOptions {
  /** Worker threads. */
  size: number;
  /** Grace between the task's signal and terminating its thread. */
  abortGraceMs: number;
  /**
   * Emit `INITIALIZING` when a thread picks the attempt up. Off when the caller announces the
   * attempt itself (the BullMQ worker does, before it runs anything). Default true.
   */
  announce?: boolean;
  /** Says where threads live in update messages, e.g. ` of worker host:123`. Default empty. */
  where?: string;
  log?: Logger;
}

// Worker threads run JavaScript: the built worker.js, or (from the TypeScript sources, as
// under vitest) a small .mjs bootstrap that registers tsx in the thread before importing
// worker.ts. Resolving next to this module keeps both cases free of path guessing.
const ownUrl = import.meta.url;
const workerFile = new URL(
  new URL(ownUrl).pathname.endsWith('.ts') ? './worker-ts-bootstrap.mjs' : './worker.js',
  ownUrl,
).href;

interface Running {
  readonly spec: AttemptSpec;
  readonly onUpdate: (update: ExecutorUpdate) => void;
  readonly kill: AbortController;
  readonly port: MessagePort;
  threadId: number | undefined;
  stop: StopReason | undefined;
  timers: NodeJS.Timeout[];
  ended: boolean;
}

/**
 * Runs single attempts of tasks on worker threads (piscina): the thread machinery shared by
 * the embedded executor and the BullMQ worker. Per attempt: the task's updates (`RUNNING`,
 * its reports), its time limit, and stops that really stop it (the task's signal fires; a
 * task still running after the grace has its thread terminated). Queueing and retries are
 * the caller's.
 *
 * @example
 * ```ts
 * const pool = new AttemptPool({ size: 2, abortGraceMs: 2000 });
 * const handle = pool.run({ runId, task, inputs, attempt: 1, maxAttempts: 1 }, (u) => console.log(u));
 * const end = await handle.done; // { kind: 'succeeded', outputs } | { kind: 'failed', error } | { kind: 'stopped', why }
 * ```
 */
export class AttemptPool {
  private pool: Piscina<AttemptJob, AttemptResult> | undefined;
  private readonly log: Logger;
  private readonly announce: boolean;
  private readonly where: string;

  constructor(private readonly options: AttemptPoolOptions) {
    if (!(Number.isInteger(options.size) && options.size >= 1))
      throw new RangeError('size must be at least 1');
    this.log = options.log ?? silentLogger;
    this.announce = options.announce ?? true;
    this.where = options.where ?? '';
  }

  /** Thread ids of the pool's live worker threads (diagnostics and tests). */
  threadIds(): number[] {
    return this.pool ? this.pool.threads.map((t) => t.threadId) : [];
  }

  run(spec: AttemptSpec, onUpdate: (update: ExecutorUpdate) => void): AttemptHandle {
    const { port1, port2 } = new MessageChannel();
    const state: Running = {
      spec,
      onUpdate,
      kill: new AbortController(),
      port: port1,
      threadId: undefined,
      stop: undefined,
      timers: [],
      ended: false,
    };
    port1.on('message', (m: WorkerMessage) => this.onWorkerMessage(state, m));
    const job: AttemptJob = {
      runId: spec.runId,
      attempt: spec.attempt,
      module: spec.task.module,
      exportName: spec.task.exportName,
      inputs: spec.inputs,
      port: port2,
    };
    const done = this.getPool()
      .run(job, { transferList: [port2], signal: state.kill.signal })
      .then(
        (result) => this.end(state, result),
        (err: unknown) =>
          this.end(state, {
            ok: false,
            aborted: state.kill.signal.aborted,
            error: {
              kind: 'SYSTEM',
              message: `the worker thread failed: ${err instanceof Error ? err.message : String(err)}`,
            },
          }),
      );
    return { done, stop: (why) => this.requestStop(state, why) };
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }

  private getPool(): Piscina<AttemptJob, AttemptResult> {
    this.pool ??= new Piscina<AttemptJob, AttemptResult>({
      filename: workerFile,
      // As many threads kept as allowed: piscina replaces a terminated thread (cancel, timeout,
      // crash) only up to minThreads, and with fewer live threads queued runs could wait forever.
      minThreads: this.options.size,
      maxThreads: this.options.size,
      // Between tasks a thread waits on its event loop, not on Atomics.wait, so a late
      // port message or timer of a finished task cannot wedge it.
      atomics: 'disabled',
    });
    return this.pool;
  }

  private describe(state: Running): string {
    return `attempt ${state.spec.attempt} of ${state.spec.maxAttempts}`;
  }

  private onWorkerMessage(state: Running, m: WorkerMessage): void {
    if (state.stop || state.ended) return;
    switch (m.type) {
      case 'started': {
        state.threadId = m.threadId;
        if (this.announce) {
          state.onUpdate({
            status: 'INITIALIZING',
            message: `loading the task on worker thread ${m.threadId}${this.where} (${this.describe(state)})`,
            attempt: state.spec.attempt,
          });
        }
        const timeoutMs = state.spec.task.definition.timeoutMs;
        if (timeoutMs !== undefined) {
          state.timers.push(setTimeout(() => this.requestStop(state, 'timeout'), timeoutMs));
        }
        break;
      }
      case 'running':
        state.onUpdate({
          status: 'RUNNING',
          message: `running on worker thread ${state.threadId}${this.where} (${this.describe(state)})`,
        });
        break;
      case 'report':
        state.onUpdate(
          m.progress === undefined
            ? { status: 'RUNNING', message: m.message }
            : { status: 'RUNNING', message: m.message, progress: m.progress },
        );
        break;
      case 'log':
        this.log[m.level]({ run: state.spec.runId, task: state.spec.task.key, ...m.fields }, m.message);
        break;
    }
  }

  /** Cooperative first (the task's signal fires), then the thread is terminated after the grace. */
  private requestStop(state: Running, why: StopReason): void {
    if (state.stop || state.ended) return;
    state.stop = why;
    if (state.threadId === undefined) {
      // Not on a thread yet: piscina drops it from its queue.
      state.kill.abort();
      return;
    }
    state.port.postMessage({
      type: 'abort',
      reason: why === 'timeout' ? 'timeout' : 'cancel',
    } satisfies AbortMessage);
    state.timers.push(setTimeout(() => state.kill.abort(), this.options.abortGraceMs));
  }

  private end(state: Running, result: AttemptResult): AttemptEnd {
    // Reports travel on the attempt's own port, the result on piscina's: take the reports the
    // task sent before returning, so none is lost or arrives after the end.
    for (let m = receiveMessageOnPort(state.port); m; m = receiveMessageOnPort(state.port)) {
      this.onWorkerMessage(state, m.message as WorkerMessage);
    }
    state.ended = true;
    for (const t of state.timers) clearTimeout(t);
    state.timers = [];
    state.port.close();
    if (state.stop) return { kind: 'stopped', why: state.stop };
    if (result.ok) return { kind: 'succeeded', outputs: result.outputs };
    return { kind: 'failed', error: result.error };
  }
}
