import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/engine/sqlite/driver.js';
import { RedisRunStore } from '../../src/tasks/runs/redis/store.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { runRunStoreConformance } from '../support/run-store-conformance.js';
import { tempDir } from '../support/server.js';

describe('SqliteRunStore schema upgrades', () => {
  it('adds who started a run and its external run to a schema-1 file on open, keeping its runs', async () => {
    const file = join(tempDir(), 'runs.db');
    const old = openSqlite(file);
    old.exec(`CREATE TABLE runs (
      id TEXT PRIMARY KEY, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
      version TEXT NOT NULL, inputs TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
      progress REAL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, outputs TEXT, error TEXT,
      seq INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      started_at INTEGER, ended_at INTEGER)`);
    old.exec(`INSERT INTO runs VALUES ('r-old', 'p', 'd', 'n', 'v1', '{}', 'QUEUED', '', NULL, 1, 1,
      NULL, NULL, 0, 1, 1, NULL, NULL)`);
    old.pragma('user_version = 1');
    old.close();

    const store = new SqliteRunStore(file);
    await store.open();
    expect(await store.getRun('r-old')).toMatchObject({ run_id: 'r-old', status: 'QUEUED' });
    expect(await store.getRun('r-old')).not.toHaveProperty('user');
    const base = {
      project: 'p',
      domain: 'd',
      task: 'n',
      version: 'v1',
      inputs: {},
      attempt: 1,
      max_attempts: 1,
    };
    const quota = { key: 'runs:user:alice', max: 1 };
    await store.createRun({ ...base, run_id: 'r-new', user: 'alice', quota }, 'q');
    expect(await store.getRun('r-new')).toMatchObject({ user: 'alice' });
    const external = {
      executor: 'flyte',
      id: { org: 'o', project: 'p', domain: 'd', name: 'wh1' },
      url: 'https://x/y',
    };
    await store.createRun({ ...base, run_id: 'r-flyte', external }, 'q');
    expect(await store.getRun('r-flyte')).toMatchObject({ external });
    expect(await store.getRun('r-old')).not.toHaveProperty('external');
    expect((await store.listActive()).map((r) => r.run_id)).toEqual(['r-old', 'r-new', 'r-flyte']);
    expect(await store.countActive('runs:user:alice')).toBe(1);
    await expect(
      store.createRun({ ...base, run_id: 'r-over', user: 'alice', quota }, 'q'),
    ).rejects.toMatchObject({
      code: 'too_many_runs',
    });
    await store.close();
    const reopened = openSqlite(file);
    expect(reopened.pragma('user_version', { simple: true })).toBe(3);
    reopened.close();
  });
});

runRunStoreConformance('sqlite', async (options) => {
  const file = join(tempDir(), 'runs.db');
  return { store: new SqliteRunStore(file, options), reopen: () => new SqliteRunStore(file, options) };
});

describe.runIf(redisAvailable())('redis', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  runRunStoreConformance('redis', async (options) => {
    // A fresh prefix per test: the same Redis, nothing shared.
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    return {
      store: new RedisRunStore({ url: redis.url, prefix, ...options }),
      reopen: () => new RedisRunStore({ url: redis.url, prefix, ...options }),
    };
  });
});
