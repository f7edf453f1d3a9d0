import { describe, it } from 'vitest';
import { faultSeed, passesShortSchedule } from '../support/faults/short-schedule.js';
import { redisAvailable } from '../support/redis.js';

/**
 * Two `wirehub serve --redis` nodes and a `wirehub worker` on a Redis without persistence,
 * under a short seeded fault schedule: Redis kill -9 under load (it restarts empty: a new
 * epoch, clients told `recovered: false`), a cut link between a node and Redis, a SIGKILLed
 * node or worker, a slow consumer, a dropped connection, task runs throughout. Replay a printed
 * seed with WIREHUB_FAULT_SEED=<seed>.
 */
const seed = faultSeed(1);

describe.runIf(redisAvailable())('redis, 2 nodes, no persistence', () => {
  it(`keeps every guarantee under the short fault schedule of seed ${seed}`, async () => {
    await passesShortSchedule('redis-2-nodes-none', seed, {
      faults: ['kill-redis', 'cut-link', 'kill'],
      slow: true,
    });
  }, 180_000);
});
