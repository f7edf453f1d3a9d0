import { afterAll, beforeAll, describe } from 'vitest';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { runEngineConformance } from '../support/engine-conformance.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';

describe.runIf(redisAvailable())('redis engine', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  // Each store is its own key prefix in the one private Redis: same store, same state.
  runEngineConformance((store) => new RedisEngine({ url: redis.url, prefix: `${store}:` }), {
    name: 'redis',
    durable: true,
  });
});
