import type { TaskRef } from '../../registry.js';

/** What a queued job carries: everything a worker on another machine needs to run the run. */
export interface RunJobData {
  runId: string;
  /** The exact task (a resolved version, never `latest`): each worker resolves it in its own registry. */
  task: TaskRef;
  inputs: unknown;
  /** The attempt the run started at on this queue (more than 1 after a restart). */
  firstAttempt: number;
  maxAttempts: number;
  /**
   * The highest attempt whose QUEUED update was stored (by the run service, a retry, or a
   * lost-attempt notice). A worker that picks up a later attempt knows the one before it
   * never reported its end: its worker was lost.
   */
  announced: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

/**
 * Names in Redis of one run queue. BullMQ keeps its own keys under `<prefix>bull:<queue>:`;
 * wirehub adds a few next to them:
 *
 * | key / channel                       | type    | holds                                                   |
 * | ----------------------------------- | ------- | ------------------------------------------------------- |
 * | `<p>bull:<q>:wh:admitted`           | zset    | runs accepted and not ended (→ `queue_full`), by time   |
 * | `<p>bull:<q>:wh:cancel`             | pub/sub | run ids to abort, for whichever worker runs them        |
 * | `<p>bull:<q>:wh:cancel:<run id>`    | string  | the same request, kept a day for a worker that missed it |
 */
export class QueueKeys {
  /** BullMQ's `prefix` option. */
  readonly bullPrefix: string;

  constructor(
    prefix: string,
    readonly queue: string,
  ) {
    this.bullPrefix = `${prefix}bull`;
  }

  /** Prefix of BullMQ's job hashes: `<that><job id>`. */
  get jobPrefix(): string {
    return `${this.bullPrefix}:${this.queue}:`;
  }

  get admitted(): string {
    return `${this.jobPrefix}wh:admitted`;
  }

  get cancelChannel(): string {
    return `${this.jobPrefix}wh:cancel`;
  }

  cancelFlag(runId: string): string {
    return `${this.jobPrefix}wh:cancel:${runId}`;
  }
}

/**
 * Admits a run unless the queue is at capacity. At capacity it first drops entries older than
 * the grace whose job is gone or finished (a run whose end was never released, e.g. its
 * record was failed by a restart), so the count heals itself.
 * KEYS: admitted. ARGV: run id, capacity, now (ms), job key prefix, grace (ms).
 * Returns {1, count} admitted, {-1, count} already admitted, {0, count} full.
 */
export const ADMIT_SCRIPT = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {-1, redis.call('ZCARD', KEYS[1])} end
local capacity = tonumber(ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n >= capacity then
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[5]))
  for _, id in ipairs(old) do
    local job = ARGV[4] .. id
    if redis.call('EXISTS', job) == 0 or redis.call('HEXISTS', job, 'finishedOn') == 1 then
      redis.call('ZREM', KEYS[1], id)
    end
  end
  n = redis.call('ZCARD', KEYS[1])
  if n >= capacity then return {0, n} end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return {1, n + 1}
`;
