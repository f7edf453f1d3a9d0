import { hostname } from 'node:os';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_PREFIX, redisClientName } from '../../../engine/redis/connection.js';
import { WirehubError } from '../../../protocol/index.js';
import { randomId } from '../../../util/ids.js';
import { type Logger, silentLogger } from '../../../util/logger.js';
import type { TaskRegistry } from '../../registry.js';
import type { RunRecord } from '../../runs/types.js';
import type { ExecutionRequest, Executor, ExecutorListener, ExecutorUpdate } from '../executor.js';
import { ADMIT_SCRIPT, QueueKeys, type RunJobData } from './queue-keys.js';
import { BullmqWorkerHost } from './worker-host.js';

export interface BullmqExecutorOptions {
  /** `redis://[user:password@]host:port[/db]`: the same Redis as the engine and run store. */
  redis: string;
  /** Prefix of every key. BullMQ's keys are under `<prefix>bull:<queue>:`. Default `wirehub:`. */
  prefix?: string;
  /** Queue name. Default `runs`. */
  queue?: string;
  /**
   * Runs accepted and not yet ended, in the whole cluster (waiting, running, or waiting out a
   * retry backoff); one more is refused with `queue_full`. Default 10 000.
   */
  capacity?: number;
  /**
   * Jobs this process runs at once, on as many worker threads. 0 (the default): this process
   * only submits and cancels; `wirehub worker` processes run the jobs.
   */
  concurrency?: number;
  /** Where this process finds the tasks of the jobs it runs (needed when `concurrency` > 0). */
  registry?: TaskRegistry;
  /** Backoff before the first retry; doubles for each further one. Default 1 s. */
  retryDelayMs?: number;
  /** Longest backoff. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Grace between a cancel or timeout signal and terminating the task's thread. Default 2 s. */
  abortGraceMs?: number;
  /**
   * How long a worker's hold on a job lasts without renewal (renewed at half of it). A worker
   * that dies is noticed this long after its last renewal, plus up to two stalled checks.
   * Default 30 s.
   */
  lockDurationMs?: number;
  /** Interval of the stalled-job check each worker runs. Default 30 s. */
  stalledIntervalMs?: number;
  /**
   * A run left unfinished in the store and last updated this long ago, whose job is gone or
   * finished, is orphaned (re-queued or failed at a node's start). Younger ones may be in the
   * middle of being queued by another node. Default 30 s.
   */
  orphanGraceMs?: number;
  /** Shown in update messages: which worker picked an attempt up. Default `<host>:<pid>`. */
  name?: string;
  log?: Logger;
}

interface AdmitReply {
  whAdmit(key: string, ...args: string[]): Promise<[number, number]>;
}

const FLAG_TTL_MS = 24 * 60 * 60 * 1000;
const WAITING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

/**
 * Runs tasks on a BullMQ queue in Redis, so runs submitted on any node are run by any
 * worker (`wirehub worker`, or nodes started with task workers). It maps the executor
 * contract onto BullMQ:
 *
 * - **submit**: the run is admitted against a cluster-wide capacity (one Lua script, so
 *   nodes racing for the last place cannot overshoot; beyond it `queue_full`), then added
 *   as a job whose id is the run id.
 * - **updates** come from the process that holds the run: the worker running its attempt
 *   (INITIALIZING, RUNNING, reports, the end) or the node that cancelled it while it waited.
 * - **retries** with exponential backoff and **per-attempt timeouts** as in the embedded
 *   executor; a worker killed mid-run is found by BullMQ's stalled check and the run is
 *   retried (attempt + 1) or failed with a SYSTEM error.
 * - **cancel**: a waiting job is removed (ABORTED at once); a running one is told through a
 *   pub/sub channel (and a key kept a day, for a worker that was reconnecting), and its
 *   worker stops the task like the embedded executor does.
 *
 * @example
 * ```ts
 * const executor = new BullmqExecutor({ redis: 'redis://127.0.0.1:6379', concurrency: 4, registry });
 * await executor.start((runId, update) => console.log(runId, update.status, update.message));
 * await executor.submit({ runId: 'r-1', task: registry.resolve(ref)!, inputs: { n: 3 }, attempt: 1 });
 * ```
 */
export class BullmqExecutor implements Executor {
  readonly kind = 'bullmq';
  readonly capacity: number;
  readonly concurrency: number;
  /** Which worker this process is, in update messages. */
  readonly name: string;
  private readonly keys: QueueKeys;
  private readonly connection: Redis;
  private readonly queue: Queue<RunJobData>;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly orphanGraceMs: number;
  private readonly log: Logger;
  private readonly host: BullmqWorkerHost | undefined;
  private listener: ExecutorListener | undefined;
  private seenActive = 0;
  private refresh: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: BullmqExecutorOptions) {
    this.capacity = options.capacity ?? 10_000;
    this.concurrency = options.concurrency ?? 0;
    if (!(Number.isInteger(this.capacity) && this.capacity >= 1))
      throw new RangeError('capacity must be at least 1');
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 0))
      throw new RangeError('concurrency must be 0 or more');
    this.name = options.name ?? `${hostname()}:${process.pid}:${randomId('w', 3).slice(2)}`;
    this.keys = new QueueKeys(options.prefix ?? DEFAULT_REDIS_PREFIX, options.queue ?? 'runs');
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.orphanGraceMs = options.orphanGraceMs ?? 30_000;
    this.log = options.log ?? silentLogger;
    this.connection = new Redis(options.redis, {
      lazyConnect: true,
      // A producer should fail fast while Redis is away, not hold the request.
      maxRetriesPerRequest: 2,
      connectionName: redisClientName('queue', this.name),
    });
    this.connection.on('error', (err) => this.log.debug({ err }, 'run queue: redis error'));
    this.connection.defineCommand('whAdmit', { numberOfKeys: 1, lua: ADMIT_SCRIPT });
    this.queue = new Queue<RunJobData>(this.keys.queue, {
      connection: this.connection,
      prefix: this.keys.bullPrefix,
    });
    this.queue.on('error', (err) => this.log.debug({ err }, 'run queue error'));
    if (this.concurrency > 0) {
      if (!options.registry) throw new TypeError('a BullMQ executor that runs jobs needs the task registry');
      this.host = new BullmqWorkerHost({
        url: options.redis,
        keys: this.keys,
        concurrency: this.concurrency,
        registry: options.registry,
        name: this.name,
        abortGraceMs: options.abortGraceMs ?? 2000,
        lockDurationMs: options.lockDurationMs ?? 30_000,
        stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
        emit: (runId, update) => this.emit(runId, update),
        release: (runId) => this.release(runId),
        log: this.log,
      });
    }
  }

  /** Accepted runs not yet ended in the whole cluster, as last counted (at most 5 s old). */
  get active(): number {
    return this.seenActive;
  }

  /** Attempts running in this process now. */
  get runningHere(): number {
    return this.host?.runningCount ?? 0;
  }

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
    // Connects the (lazy) connection the queue shares with this executor.
    await this.queue.waitUntilReady();
    await this.countActive();
    this.refresh = setInterval(() => void this.countActive(), 5_000);
    this.refresh.unref();
    await this.host?.start();
  }

  async submit(request: ExecutionRequest): Promise<void> {
    if (this.closed) throw new WirehubError('not_ready', 'the task executor is shut down');
    const { runId, task } = request;
    const d = task.definition;
    const maxAttempts = (d.retries ?? 0) + 1;
    const [admitted, count] = await (this.connection as unknown as AdmitReply).whAdmit(
      this.keys.admitted,
      runId,
      String(this.capacity),
      String(Date.now()),
      this.keys.jobPrefix,
      String(this.orphanGraceMs),
    );
    this.seenActive = count;
    if (admitted === 0) {
      throw new WirehubError(
        'queue_full',
        `the run queue is full (${this.capacity} runs queued or running); try again later`,
        { capacity: this.capacity },
      );
    }
    if (admitted === -1) throw new Error(`run ${runId} was already submitted`);
    const data: RunJobData = {
      runId,
      task: { project: d.project, domain: d.domain, name: d.name, version: d.version },
      inputs: request.inputs,
      firstAttempt: request.attempt,
      maxAttempts,
      announced: request.attempt,
      retryDelayMs: this.retryDelayMs,
      maxRetryDelayMs: this.maxRetryDelayMs,
    };
    try {
      await this.queue.add(task.key, data, {
        jobId: runId,
        attempts: Math.max(1, maxAttempts - request.attempt + 1),
        backoff: { type: 'wirehub' },
        removeOnComplete: true,
        removeOnFail: { age: 24 * 60 * 60, count: 1000 },
      });
    } catch (err) {
      await this.release(runId).catch(() => {});
      throw err;
    }
  }

  async cancel(runId: string): Promise<boolean> {
    if (this.closed) return false;
    if ((await this.connection.zscore(this.keys.admitted, runId)) === null) return false;
    const job = await this.queue.getJob(runId);
    const state = job ? await job.getState() : 'unknown';
    if (WAITING_STATES.has(state) && (await this.queue.remove(runId)) === 1) {
      // Nobody runs it, and now nobody will: this process ends it.
      if (await this.release(runId)) {
        await this.emit(runId, {
          status: 'ABORTED',
          message: 'aborted on request',
          error: { kind: 'USER', message: 'aborted on request' },
        });
      }
      return true;
    }
    if (state === 'unknown' || state === 'completed' || state === 'failed') {
      // Its job is gone without the run ending: nothing to stop (the run service ends it).
      await this.release(runId);
      return false;
    }
    // Running (or it just started): whichever worker runs it stops it.
    await this.connection
      .multi()
      .set(this.keys.cancelFlag(runId), '1', 'PX', FLAG_TTL_MS)
      .publish(this.keys.cancelChannel, runId)
      .exec();
    return true;
  }

  async orphaned<R extends RunRecord>(runs: R[]): Promise<R[]> {
    const out: R[] = [];
    const now = Date.now();
    for (const run of runs) {
      if (now - Date.parse(run.updated_at) < this.orphanGraceMs) continue;
      const job = await this.queue.getJob(run.run_id);
      const state = job ? await job.getState() : 'unknown';
      if (state !== 'unknown' && state !== 'completed' && state !== 'failed') continue;
      await this.release(run.run_id);
      out.push(run);
    }
    return out;
  }

  /**
   * The same check as `orphaned`, while running: a run older than the grace whose job Redis no
   * longer has (or has as ended) is nobody's, e.g. after Redis restarted and its AOF/RDB lost
   * the last writes.
   */
  lost<R extends RunRecord>(runs: R[]): Promise<R[]> {
    return this.orphaned(runs);
  }

  /** Stops taking jobs; running attempts get up to `timeoutMs` to end, then are handed back. */
  async drain(timeoutMs: number): Promise<void> {
    await this.host?.drain(timeoutMs);
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refresh);
    await this.host?.close();
    await this.queue.close().catch(() => {});
    this.connection.disconnect();
  }

  private emit(runId: string, update: ExecutorUpdate): Promise<boolean> {
    if (this.closed || !this.listener) return Promise.resolve(false);
    const answer = this.listener(runId, update);
    return answer instanceof Promise ? answer : Promise.resolve(true);
  }

  /**
   * The run no longer takes a place in the queue. True when this call released it. Once closed,
   * nothing is released: runs abandoned by a close stay queued (their jobs stall and are retried).
   */
  private async release(runId: string): Promise<boolean> {
    if (this.closed) return false;
    const reply = await this.connection
      .multi()
      .zrem(this.keys.admitted, runId)
      .zcard(this.keys.admitted)
      .exec();
    const removed = reply?.[0]?.[1];
    const count = reply?.[1]?.[1];
    if (typeof count === 'number') this.seenActive = count;
    return removed === 1;
  }

  private async countActive(): Promise<void> {
    try {
      this.seenActive = await this.connection.zcard(this.keys.admitted);
    } catch (err) {
      this.log.debug({ err }, 'counting queued runs failed');
    }
  }
}
