import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import { BullmqExecutor } from '../../src/tasks/executors/bullmq/bullmq-executor.js';
import { TaskRegistry } from '../../src/tasks/registry.js';
import { CONFORMANCE_TASKS, runExecutorConformance } from '../support/executor-conformance.js';
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
});
