import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../../../util/logger.js';
import { MAX_RETRIES, taskKey } from '../../define-task.js';
import type { TaskRegistry } from '../../registry.js';
import type { RunError } from '../../runs/types.js';
import {
  type AttemptEnd,
  type AttemptHandle,
  AttemptPool,
  type StopReason,
} from '../embedded/attempt-pool.js';
import { retryDelay } from '../embedded/retry-delay.js';
import type { ExecutorUpdate } from '../executor.js';
import type { QueueKeys, RunJobData } from './queue-keys.js';

export interface WorkerHostOptions {
  url: string;
  keys: QueueKeys;
  /** Jobs run at once (worker threads). */
  concurrency: number;
  registry: TaskRegistry;
  /** Shown in update messages and stored on jobs, e.g. `host:1234`. */
  name: string;
  abortGraceMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Hands an update to the run service; resolves false when it refused it. */
  emit(runId: string, update: ExecutorUpdate): Promise<boolean>;
  /** Marks the run as no longer occupying the queue; call right before its terminal update. */
  release(runId: string): Promise<unknown>;
  log: Logger;
}

interface Running {
  handle: AttemptHandle | undefined;
  /** A stop asked for before the attempt was on a thread. */
  stop: StopReason | undefined;
}

/** A failed attempt handed back to BullMQ, which retries the job after the backoff. */
class RetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLater';
  }
}

/**
 * The consuming side of the BullMQ executor: a BullMQ `Worker` whose processor runs each
 * job's attempt on a worker thread (the embedded executor's thread pool), so a CPU-heavy task
 * never stalls this process's Redis link (lock renewals, cancel messages).
 *
 * - The attempt number is `firstAttempt + attemptsStarted - 1`: BullMQ counts every pick-up,
 *   including one whose worker died, so a worker killed mid-run costs the run an attempt.
 * - A pick-up after an attempt that never reported its end (its worker was killed or lost
 *   its lock; BullMQ's stalled check put the job back) first says so: QUEUED with the new
 *   attempt, or FAILED with a SYSTEM error when no attempt is left.
 * - INITIALIZING is stored before the task's code starts; if the run service refuses it (the
 *   run ended meanwhile, e.g. aborted), the task does not run.
 * - Retries are BullMQ retries (the job's `attempts`, a backoff computed like the embedded
 *   executor's); timeouts and cancels end the run without a retry.
 * - Cancels arrive on a pub/sub channel and as a key kept a day (for a worker that was
 *   reconnecting when the message went out); either stops the attempt like a local cancel.
 */
export class BullmqWorkerHost {
  private readonly pool: AttemptPool;
  private readonly running = new Map<string, Running>();
  private worker: Worker<RunJobData> | undefined;
  private workerConnection: Redis | undefined;
  private subscriber: Redis | undefined;
  private closing = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly o: WorkerHostOptions) {
    this.pool = new AttemptPool({
      size: o.concurrency,
      abortGraceMs: o.abortGraceMs,
      announce: false,
      where: ` of worker ${o.name}`,
      log: o.log,
    });
  }

  /** Runs on this worker now. */
  get runningCount(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    const subscriber = new Redis(this.o.url, { maxRetriesPerRequest: null, connectionName: this.o.name });
    this.subscriber = subscriber;
    subscriber.on('error', (err) => this.o.log.debug({ err }, 'cancel channel: redis error'));
    subscriber.on('message', (_channel: string, runId: string) => this.stopLocal(runId, 'cancel'));
    let connected = false;
    subscriber.on('ready', () => {
      // Cancels sent while the link was down were missed: their keys are still there.
      if (connected) void this.recheckCancels();
      connected = true;
    });
    await subscriber.subscribe(this.o.keys.cancelChannel);

    // BullMQ wants `maxRetriesPerRequest: null` on a worker's connection (its blocking reads
    // must wait out a Redis restart rather than fail).
    this.workerConnection = new Redis(this.o.url, { maxRetriesPerRequest: null });
    this.workerConnection.on('error', () => {});
    const worker = new Worker<RunJobData>(this.o.keys.queue, (job) => this.process(job), {
      connection: this.workerConnection,
      prefix: this.o.keys.bullPrefix,
      concurrency: this.o.concurrency,
      name: this.o.name,
      lockDuration: this.o.lockDurationMs,
      stalledInterval: this.o.stalledIntervalMs,
      // After a Redis error BullMQ waits this long before fetching jobs again (15 s by
      // default): after Redis comes back, queued runs should not sit idle that long.
      runRetryDelay: 1_000,
      // wirehub counts lost attempts itself and fails the run when none is left; BullMQ must
      // not fail a job silently before that.
      maxStalledCount: MAX_RETRIES + 2,
      settings: {
        backoffStrategy: (_attemptsMade, _type, _err, job) => {
          const d = job?.data as RunJobData | undefined;
          if (!d || !job) return 0;
          return retryDelay(attemptOf(job as Job<RunJobData>), d.retryDelayMs, d.maxRetryDelayMs);
        },
      },
    });
    worker.on('error', (err) => this.o.log.warn({ err }, 'bullmq worker error'));
    this.worker = worker;
    await worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and lets running attempts finish for up to `timeoutMs`; attempts still
   * running then are interrupted and handed back to the queue (retried elsewhere when they
   * have attempts left).
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const timer = setTimeout(() => {
      for (const runId of this.running.keys()) this.stopLocal(runId, 'shutdown');
    }, timeoutMs);
    try {
      await this.worker?.close();
    } finally {
      clearTimeout(timer);
      await this.shutdown();
    }
  }

  /** Stops at once: running attempts are abandoned (their jobs stall and are retried by others). */
  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.close(true);
    await this.shutdown();
  }

  private shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      await this.pool.destroy();
      this.subscriber?.disconnect();
      this.workerConnection?.disconnect();
    })();
    return this.stopped;
  }

  private stopLocal(runId: string, why: StopReason): void {
    const entry = this.running.get(runId);
    if (!entry) return;
    if (entry.handle) entry.handle.stop(why);
    else entry.stop ??= why;
  }

  private async recheckCancels(): Promise<void> {
    const ids = [...this.running.keys()];
    if (ids.length === 0 || !this.workerConnection) return;
    try {
      const flags = await this.workerConnection.mget(...ids.map((id) => this.o.keys.cancelFlag(id)));
      ids.forEach((id, i) => {
        if (flags[i]) this.stopLocal(id, 'cancel');
      });
    } catch (err) {
      this.o.log.warn({ err }, 'rechecking cancels failed');
    }
  }

  private async cancelRequested(runId: string): Promise<boolean> {
    if (!this.workerConnection) return false;
    return (await this.workerConnection.exists(this.o.keys.cancelFlag(runId))) === 1;
  }

  private emit(runId: string, update: ExecutorUpdate): Promise<boolean> {
    return this.o.emit(runId, update);
  }

  private async end(runId: string, update: ExecutorUpdate): Promise<void> {
    await this.o.release(runId);
    await this.emit(runId, update);
  }

  private async process(job: Job<RunJobData>): Promise<void> {
    const d = job.data;
    const { runId } = d;
    const attempt = attemptOf(job);
    const entry: Running = { handle: undefined, stop: undefined };
    this.running.set(runId, entry);
    const describe = (n: number) => `attempt ${n} of ${d.maxAttempts}`;
    try {
      if (await this.cancelRequested(runId)) entry.stop = 'cancel';
      if (entry.stop === 'cancel') return await this.end(runId, aborted());
      if (attempt > d.announced) {
        const lost = `${describe(attempt - 1)} was lost: its worker stopped answering (killed, crashed or cut off from Redis)`;
        if (attempt > d.maxAttempts) {
          const message = `${lost}; no attempts left`;
          return await this.end(runId, {
            status: 'FAILED',
            message: `failed: ${message}`,
            error: { kind: 'SYSTEM', message },
            fromAttempt: attempt - 1,
          });
        }
        // Refused when that attempt's end was recorded after all: the INITIALIZING below decides.
        await this.emit(runId, {
          status: 'QUEUED',
          message: `${lost}; retrying`,
          attempt,
          fromAttempt: attempt - 1,
        });
        await job.updateData({ ...d, announced: attempt });
      }
      const task = this.o.registry.resolve(d.task);
      if (!task) {
        const message = `task ${taskKey(d.task)} is not registered on worker ${this.o.name}`;
        return await this.end(runId, {
          status: 'FAILED',
          message: `failed: ${message}`,
          error: { kind: 'SYSTEM', message },
          fromAttempt: attempt,
        });
      }
      const go = await this.emit(runId, {
        status: 'INITIALIZING',
        message: `picked up by worker ${this.o.name} (${describe(attempt)})`,
        attempt,
        fromAttempt: attempt,
      });
      if (!go) {
        // The run ended elsewhere (or this attempt is no longer its own): do not run it.
        await this.o.release(runId);
        return;
      }
      const handle = this.pool.run(
        { runId, task, inputs: d.inputs, attempt, maxAttempts: d.maxAttempts },
        (update) => {
          // Refused: the run ended elsewhere (aborted by a node that found no job) or this
          // attempt is no longer the run's (its lock was lost and another worker took over).
          // Either way nobody wants what it computes any more.
          this.emit(runId, { ...update, fromAttempt: attempt }).then(
            (stored) => {
              if (!stored) handle.stop('cancel');
            },
            () => {},
          );
        },
      );
      entry.handle = handle;
      if (entry.stop) handle.stop(entry.stop);
      const end = await handle.done;
      entry.handle = undefined;
      await this.afterAttempt(job, task.definition.timeoutMs, attempt, end, describe);
    } finally {
      this.running.delete(runId);
    }
  }

  private async afterAttempt(
    job: Job<RunJobData>,
    timeoutMs: number | undefined,
    attempt: number,
    end: AttemptEnd,
    describe: (n: number) => string,
  ): Promise<void> {
    const d = job.data;
    const { runId } = d;
    let error: RunError;
    if (end.kind === 'succeeded') {
      return this.end(runId, {
        status: 'SUCCEEDED',
        message: 'succeeded',
        outputs: end.outputs,
        progress: 100,
        fromAttempt: attempt,
      });
    }
    if (end.kind === 'stopped' && end.why === 'cancel') return this.end(runId, aborted(attempt));
    if (end.kind === 'stopped' && end.why === 'timeout') {
      const message = `timed out after ${timeoutMs} ms (${describe(attempt)})`;
      return this.end(runId, {
        status: 'TIMED_OUT',
        message,
        error: { kind: 'USER', message },
        fromAttempt: attempt,
      });
    }
    if (end.kind === 'stopped')
      error = { kind: 'SYSTEM', message: `interrupted: worker ${this.o.name} shut down` };
    else error = end.error;
    if (attempt < d.maxAttempts) {
      const delay = retryDelay(attempt, d.retryDelayMs, d.maxRetryDelayMs);
      await this.emit(runId, {
        status: 'QUEUED',
        message: `${describe(attempt)} failed (${error.kind}: ${error.message}); retrying in ${delay} ms`,
        attempt: attempt + 1,
        fromAttempt: attempt,
      });
      await job.updateData({ ...d, announced: attempt + 1 });
      throw new RetryLater(error.message);
    }
    return this.end(runId, {
      status: 'FAILED',
      message: `failed: ${error.message}`,
      error,
      fromAttempt: attempt,
    });
  }
}

/** The run's attempt this pick-up of the job is. */
function attemptOf(job: Job<RunJobData>): number {
  return job.data.firstAttempt + Math.max(1, job.attemptsStarted) - 1;
}

/** ABORTED; `fromAttempt` when it ends a running attempt (none when the run was waiting). */
function aborted(fromAttempt?: number): ExecutorUpdate {
  const update: ExecutorUpdate = {
    status: 'ABORTED',
    message: 'aborted on request',
    error: { kind: 'USER', message: 'aborted on request' },
  };
  if (fromAttempt !== undefined) update.fromAttempt = fromAttempt;
  return update;
}
