import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisRunStore } from '../../src/tasks/runs/redis-run-store.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { runRunStoreConformance } from '../support/run-store-conformance.js';
import { tempDir } from '../support/server.js';

runRunStoreConformance('sqlite', async () => {
  const file = join(tempDir(), 'runs.db');
  return { store: new SqliteRunStore(file), reopen: () => new SqliteRunStore(file) };
});

describe.runIf(redisAvailable())('redis', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  runRunStoreConformance('redis', async () => {
    // A fresh prefix per test: the same Redis, nothing shared.
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    return {
      store: new RedisRunStore({ url: redis.url, prefix }),
      reopen: () => new RedisRunStore({ url: redis.url, prefix }),
    };
  });
});
