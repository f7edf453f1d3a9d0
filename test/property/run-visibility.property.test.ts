import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permissions } from '../../src/hub/permissions.js';
import type { Principal } from '../../src/hub/principal.js';
import { RedisRunStore } from '../../src/tasks/runs/redis/store.js';
import { maySeeRun, visibleRunsQuery } from '../../src/tasks/runs/run-access.js';
import type { RunStore } from '../../src/tasks/runs/run-store.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import type { RunRecord } from '../../src/tasks/runs/types.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';

// Names and patterns from a small alphabet that includes SQLite GLOB's own special characters,
// so a pattern piece that escaped badly would show up as a disagreement.
const chars = fc.constantFrom('a', 'b', '.', '-', '?', '[', ']', '*', '^');
const name = fc.string({ unit: chars, minLength: 1, maxLength: 3 });
const users = ['alice', 'bob', 'a*b', '[x]'];
const user = fc.option(fc.constantFrom(...users), { nil: undefined });
const pattern = fc.oneof(
  fc.string({ unit: fc.oneof(chars, fc.constant('/')), maxLength: 6 }),
  fc.constantFrom('*', 'a/*', '*/b/*', '{user}/*', '*{user}*', 'a/a/a'),
);

/** 400 runs of random tasks and owners, created in order; resolves with them newest first. */
async function fill(store: RunStore): Promise<RunRecord[]> {
  await store.open();
  const sample = fc.sample(fc.tuple(name, name, name, user), { numRuns: 400, seed: 7 });
  let i = 0;
  for (const [project, domain, task, owner] of sample) {
    await store.createRun(
      {
        run_id: `r-${i}`,
        project,
        domain,
        task,
        version: 'v1',
        inputs: {},
        attempt: 1,
        max_attempts: 1,
        ...(owner === undefined ? {} : { user: owner }),
      },
      'queued',
      1_000_000 + i,
    );
    i += 1;
  }
  const runs = await store.list({ limit: 1000 });
  expect(runs).toHaveLength(400);
  return runs;
}

function principal(grants: { tasks: string[]; allRuns: boolean }, who: string | undefined): Principal {
  return {
    user: who,
    method: 'jwt',
    claims: {},
    expiresAt: undefined,
    permissions: new Permissions(grants, who),
  };
}

/** The store's own filter (SQL, or Lua in Redis) lists exactly the runs maySeeRun allows. */
async function agreesWithMaySeeRun(store: RunStore, runs: RunRecord[]): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(pattern, { maxLength: 4 }), fc.boolean(), user, async (tasks, allRuns, who) => {
      const p = principal({ tasks, allRuns }, who);
      const query = visibleRunsQuery(p, { limit: 1000 });
      const listed = query ? (await store.list(query)).map((r) => r.run_id) : [];
      const expected = runs.filter((r) => maySeeRun(p, r)).map((r) => r.run_id);
      expect(listed).toEqual(expected);
    }),
    { numRuns: 300, seed: 11 },
  );
}

describe('run visibility', () => {
  describe('SQLite store', () => {
    const store = new SqliteRunStore(':memory:');
    let runs: RunRecord[];
    beforeAll(async () => {
      runs = await fill(store);
    });
    afterAll(() => store.close());

    it('the SQL filter of GET /api/runs lists exactly the runs maySeeRun allows', async () => {
      await agreesWithMaySeeRun(store, runs);
    });
  });

  describe.runIf(redisAvailable())('Redis store', () => {
    let redis: RedisProcess;
    let store: RedisRunStore;
    let runs: RunRecord[];
    beforeAll(async () => {
      redis = await RedisProcess.start();
      store = new RedisRunStore({ url: redis.url, prefix: `v${randomBytes(3).toString('hex')}:` });
      runs = await fill(store);
    });
    afterAll(async () => {
      await store?.close();
      await redis?.stop();
    });

    it('the Lua filter of GET /api/runs lists exactly the runs maySeeRun allows', async () => {
      await agreesWithMaySeeRun(store, runs);
    });
  });
});
