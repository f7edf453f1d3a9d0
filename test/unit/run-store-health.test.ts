import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { tempDir } from '../support/server.js';
import { breakWrites } from '../support/sqlite-faults.js';

const stores: SqliteRunStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

const run = (id: string) => ({
  run_id: id,
  project: 'demo',
  domain: 'development',
  task: 'countdown',
  version: 'v1',
  inputs: { n: 1 },
  attempt: 1,
  max_attempts: 1,
});

describe('SqliteRunStore health', () => {
  it('answers store_unavailable when runs.db cannot be written, is not ready meanwhile, and recovers', async () => {
    const file = join(tempDir(), 'runs.db');
    const store = new SqliteRunStore(file, { pruneEveryMs: 0, probeEveryMs: 0 });
    stores.push(store);
    await store.open();
    await store.createRun(run('r-1'), 'queued');
    expect(store.health?.problem).toBeUndefined();

    const repair = breakWrites(file, ['runs', 'run_updates', 'meta']);
    await expect(store.createRun(run('r-2'), 'queued')).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(store.apply('r-1', { status: 'INITIALIZING', message: 'starting' })).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    expect(store.health?.problem).toMatch(/runs store \(runs\.db\) failed/);
    expect(store.health?.errors).toBe(2);
    // Reads still work and tell the truth: the refused run does not exist.
    expect(await store.getRun('r-2')).toBeUndefined();

    repair();
    await store.createRun(run('r-3'), 'queued');
    expect(store.health?.problem).toBeUndefined();
    expect((await store.getRun('r-3'))?.status).toBe('QUEUED');
  });

  it('a refusal of the state machine is not a store failure', async () => {
    const store = new SqliteRunStore(join(tempDir(), 'runs.db'), { pruneEveryMs: 0 });
    stores.push(store);
    await store.open();
    await store.createRun({ ...run('r-1'), quota: { key: 'user:a', max: 1 } }, 'queued');
    await expect(
      store.createRun({ ...run('r-2'), quota: { key: 'user:a', max: 1 } }, 'queued'),
    ).rejects.toMatchObject({ code: 'too_many_runs' });
    expect(store.health?.problem).toBeUndefined();
    expect(store.health?.errors).toBe(0);
  });
});
