import { describe, it } from 'vitest';
import { faultSeed, passesShortSchedule } from '../support/faults/short-schedule.js';
import { redisAvailable } from '../support/redis.js';

/**
 * Two `wirehub serve --redis` nodes and a `wirehub worker` on a Redis with an append-only
 * file fsynced on every write, under a short seeded fault schedule: Redis kill -9 under load
 * (it restarts with its data: nothing acked may be lost, no offset reused), a graceful node
 * restart, a hung link (nothing forwarded), a dropped connection, task runs throughout.
 * Replay a printed seed with WIREHUB_FAULT_SEED=<seed>.
 */
const seed = faultSeed(1);

describe.runIf(redisAvailable())('redis, 2 nodes, AOF fsync always', () => {
  it(`keeps every guarantee under the short fault schedule of seed ${seed}`, async () => {
    await passesShortSchedule('redis-2-nodes-aof-always', seed, {
      faults: ['kill-redis', 'term', 'hang-link'],
      slow: false,
    });
  }, 180_000);
});
