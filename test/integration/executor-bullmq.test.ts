import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WirehubError } from '../../src/protocol/index.js';
import {
  BullmqExecutor,
  type BullmqExecutorOptions,
} from '../../src/tasks/executors/bullmq/bullmq-executor.js';
import { TaskRegistry } from '../../src/tasks/registry.js';
import type { RunRecord } from '../../src/tasks/runs/types.js';
import {
  CONFORMANCE_TASKS,
  runExecutorConformance,
  UpdateRecorder,
} from '../support/executor-conformance.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';

const concurrency = 2;
const queueSize = 2;

describe.runIf(redisAvailable())('BullMQ executor', () => {
  let redis: RedisProcess;
  const registry = new TaskRegistry();
  beforeAll(async () => {
    redis = await RedisProcess.start();
    await registry.loadModule(CONFORMANCE_TASKS);
  });
  afterAll(async () => {
    await redis.stop();
  });

  // One process submits and runs (worker threads behind a BullMQ worker), on a queue of its
  // own per test so nothing one test leaves behind reaches the next.
  runExecutorConformance('bullmq (Redis queue, worker threads)', async () => ({
    executor: new BullmqExecutor({
      redis: redis.url,
      prefix: `t${randomBytes(4).toString('hex')}:`,
      registry,
      concurrency,
      capacity: concurrency + queueSize,
      retryDelayMs: 20,
      abortGraceMs: 100,
    }),
    concurrency,
    queueSize,
  }));

  describe('in a cluster', () => {
    let prefix = '';
    const open: BullmqExecutor[] = [];
    let seq = 0;

    beforeEach(() => {
      // A fresh queue (and admission set) per test.
      prefix = `c${randomBytes(4).toString('hex')}:`;
    });
    afterEach(async () => {
      for (const e of open.splice(0)) await e.close();
    });

    const task = (name: string) => {
      const t = registry.resolve({ project: 'test', domain: 'fixtures', name, version: 'v1' });
      if (!t) throw new Error(`no fixture ${name}`);
      return t;
    };
    async function executor(options: Partial<BullmqExecutorOptions> = {}, rec = new UpdateRecorder()) {
      const e = new BullmqExecutor({
        redis: redis.url,
        prefix,
        registry,
        retryDelayMs: 20,
        abortGraceMs: 100,
        ...options,
      });
      open.push(e);
      await e.start(rec.listener);
      return e;
    }
    async function submit(e: BullmqExecutor, name: string, inputs: unknown): Promise<string> {
      seq += 1;
      const runId = `r-cluster-${seq}`;
      await e.submit({ runId, task: task(name), inputs, attempt: 1 });
      return runId;
    }
    const record = (runId: string, updatedAgoMs: number): RunRecord => ({
      run_id: runId,
      project: 'test',
      domain: 'fixtures',
      task: 'sleep',
      version: 'v1',
      inputs: {},
      status: 'RUNNING',
      message: '',
      attempt: 1,
      max_attempts: 1,
      created_at: new Date(Date.now() - updatedAgoMs).toISOString(),
      updated_at: new Date(Date.now() - updatedAgoMs).toISOString(),
      seq: 3,
    });

    it('shares one capacity between the nodes of a cluster: racing for the last place, one wins', async () => {
      const a = await executor({ capacity: 3 });
      const b = await executor({ capacity: 3 });
      await submit(a, 'sleep', { ms: 60_000 });
      await submit(b, 'sleep', { ms: 60_000 });
      const race = await Promise.allSettled([submit(a, 'sleep', { ms: 1 }), submit(b, 'sleep', { ms: 1 })]);
      expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = race.find((r) => r.status === 'rejected');
      expect(refused?.status === 'rejected' && refused.reason).toBeInstanceOf(WirehubError);
      expect(refused?.status === 'rejected' && (refused.reason as WirehubError).code).toBe('queue_full');
      expect(a.active).toBe(3);
    });

    it('takes back, at capacity, the place of a run whose job vanished (after the grace)', async () => {
      const a = await executor({ capacity: 1, orphanGraceMs: 0 });
      const lost = await submit(a, 'sleep', { ms: 60_000 });
      await expect(submit(a, 'sleep', { ms: 1 })).rejects.toMatchObject({ code: 'queue_full' });
      const queue = new Queue(`runs`, { connection: { url: redis.url }, prefix: `${prefix}bull` });
      expect(await queue.remove(lost)).toBe(1);
      await queue.close();
      await submit(a, 'sleep', { ms: 1 });
      expect(a.active).toBe(1);
    });

    it('orphaned(): unfinished runs older than the grace whose job is gone; not queued nor recent ones', async () => {
      const a = await executor({ orphanGraceMs: 5_000 });
      const queued = await submit(a, 'sleep', { ms: 1 });
      const found = await a.orphaned([
        record(queued, 60_000),
        record('r-no-job-old', 60_000),
        record('r-no-job-recent', 1_000),
      ]);
      expect(found.map((r) => r.run_id)).toEqual(['r-no-job-old']);
    });

    it('a cancel sent while the worker of a running job is gone is applied when another worker picks the job up', async () => {
      const stall = { lockDurationMs: 500, stalledIntervalMs: 200 };
      const first = new UpdateRecorder();
      const a = await executor({ concurrency: 1, ...stall }, first);
      const id = await submit(a, 'sleep', { ms: 60_000 });
      await first.when(id, (u) => u.message === 'sleeping');
      // The worker goes away without a word (its lock simply expires).
      await a.close();
      const b = await executor();
      expect(await b.cancel(id)).toBe(true);
      const second = new UpdateRecorder();
      await executor({ concurrency: 1, ...stall }, second);
      expect(await second.ended(id)).toMatchObject({ status: 'ABORTED' });
      expect(second.statuses(id)).toEqual(['ABORTED']);
      expect(await b.cancel(id)).toBe(false);
    });
  });
});
