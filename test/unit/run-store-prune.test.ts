import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/engine/sqlite/driver.js';
import { RedisRunStore } from '../../src/tasks/runs/redis/store.js';
import type { NewRun, RunStore } from '../../src/tasks/runs/run-store.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { eventually } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { tempDir } from '../support/server.js';

const HOUR = 60 * 60 * 1000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const run = (id: string, user?: string): NewRun => ({
  run_id: id,
  project: 'p',
  domain: 'd',
  task: 'n',
  version: 'v1',
  inputs: {},
  attempt: 1,
  max_attempts: 1,
  ...(user === undefined ? {} : { user }),
});

/** Creates `count` runs and ends each (with a few updates) at `endedAt`. */
async function endedRuns(store: RunStore, prefix: string, count: number, endedAt: number, user?: string) {
  for (let i = 0; i < count; i += 1) {
    const id = `${prefix}-${i}`;
    await store.createRun(run(id, user), 'q', endedAt - 10);
    await store.apply(id, { status: 'INITIALIZING', message: 'i', attempt: 1 }, endedAt - 5);
    await store.apply(id, { status: 'RUNNING', message: 'r' }, endedAt - 5);
    const end = await store.apply(id, { status: 'SUCCEEDED', message: 'done', outputs: i }, endedAt);
    expect(end.applied).toBe(true);
  }
}

describe('SqliteRunStore prune', () => {
  it('deletes runs ended before the retention, in batches, with their updates; keeps the rest', async () => {
    const file = join(tempDir(), 'runs.db');
    const store = new SqliteRunStore(file, { retentionMs: HOUR, pruneBatch: 2, pruneEveryMs: 0 });
    await store.open();
    await endedRuns(store, 'r-old', 5, T0);
    await endedRuns(store, 'r-recent', 2, T0 + HOUR);
    // Active since long before: never pruned.
    await store.createRun(run('r-active'), 'q', T0 - 10 * HOUR);

    expect(await store.prune(T0 + HOUR)).toBe(0); // exactly the retention: still kept
    expect(await store.prune(T0 + HOUR + 1)).toBe(5); // three statements of at most 2
    expect(await store.prune(T0 + HOUR + 1)).toBe(0);
    expect((await store.list({ limit: 100 })).map((r) => r.run_id).sort()).toEqual([
      'r-active',
      'r-recent-0',
      'r-recent-1',
    ]);
    const db = openSqlite(file, { readonly: true });
    // The cascade took their updates: 4 per recent run, 1 for the active one.
    expect(db.prepare("SELECT COUNT(*) AS n FROM run_updates WHERE run_id LIKE 'r-old-%'").get()).toEqual({
      n: 0,
    });
    expect(db.prepare('SELECT COUNT(*) AS n FROM run_updates').get()).toEqual({ n: 9 });
    // The prune query walks the ended_at index, not the whole table.
    const plan = db
      .prepare(
        'EXPLAIN QUERY PLAN SELECT id FROM runs WHERE ended_at IS NOT NULL AND ended_at < 1 LIMIT 1000',
      )
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toContain('runs_by_ended');
    db.close();

    expect(await store.prune(T0 + 100 * HOUR)).toBe(2);
    expect((await store.list({ limit: 100 })).map((r) => r.run_id)).toEqual(['r-active']);
    await store.close();
  });

  it('prunes on open what ended more than the retention ago', async () => {
    const file = join(tempDir(), 'runs.db');
    const first = new SqliteRunStore(file);
    await first.open();
    await endedRuns(first, 'r-week', 1, Date.now() - 8 * 24 * HOUR);
    await endedRuns(first, 'r-day', 1, Date.now() - 24 * HOUR);
    await first.close();
    const reopened = new SqliteRunStore(file);
    await reopened.open();
    expect(await reopened.getRun('r-week-0')).toBeUndefined();
    expect(await reopened.getRun('r-day-0')).toMatchObject({ status: 'SUCCEEDED' });
    await reopened.close();
  });
});

describe.runIf(redisAvailable())('RedisRunStore prune', () => {
  let redis: RedisProcess;
  let client: Redis;
  beforeAll(async () => {
    redis = await RedisProcess.start();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('drops the index entries of expired runs (all, status, user), keeps those of live runs', async () => {
    const prefix = `p${randomBytes(3).toString('hex')}:`;
    const store = new RedisRunStore({ url: redis.url, prefix, retentionMs: 200, pruneEveryMs: 0 });
    await store.open();
    const now = Date.now();
    await endedRuns(store, 'r-gone', 3, now, 'alice');
    await store.createRun(run('r-live', 'alice'), 'q', now);
    const keys = ['all', 's:SUCCEEDED', 's:QUEUED', 'o:alice'].map((k) => `${prefix}{runs}:${k}`);
    const members = () => Promise.all(keys.map((k) => client.zrange(k, 0, -1)));
    // Each expires 200 ms after its own end: wait for the last.
    const records = [0, 1, 2].map((i) => `${prefix}{runs}:r:r-gone-${i}`);
    await eventually('the records to expire', async () => (await client.exists(...records)) === 0);
    // Expired records leave their index entries behind until a list or a prune comes by.
    expect((await members()).map((m) => m.length)).toEqual([4, 3, 1, 4]);
    // Created after the cutoff: not looked at yet.
    expect(await store.prune(now - 1)).toBe(0);
    expect(await store.prune(now + 200)).toBe(3);
    expect(await members()).toEqual([['r-live'], [], ['r-live'], ['r-live']]);
    expect(await store.prune(now + 200)).toBe(0);
    await store.close();
  });
});
