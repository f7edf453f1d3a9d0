import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WirehubError } from '../../src/protocol/index.js';
import type { NewRun, RunStore } from '../../src/tasks/runs/run-store.js';
import { eventually } from './cluster.js';

/** What the suite needs from a store under test. */
export interface RunStoreUnderTest {
  store: RunStore;
  /** A second store on the same data (a restart, or another node of the cluster). */
  reopen(): RunStore;
  teardown?(): Promise<void>;
}

/** Options the suite sets on a store it makes. */
export interface RunStoreOptions {
  /** How long an ended run is kept. */
  retentionMs?: number;
}

let n = 0;
function newRun(overrides: Partial<NewRun> = {}): NewRun {
  n += 1;
  return {
    run_id: `r-store-${process.pid}-${n}`,
    project: 'p',
    domain: 'd',
    task: 'n',
    version: 'v1',
    inputs: { a: 1, list: [], nested: { empty: {} } },
    max_attempts: 2,
    attempt: 1,
    ...overrides,
  };
}

/**
 * The suite every run store passes (SQLite, Redis): creating runs, atomic checked updates
 * (state machine, seq, stale attempts, compare-and-set), reads, lists, and that what one
 * store instance wrote another one (after a restart, or on another node) sees.
 */
export function runRunStoreConformance(
  name: string,
  make: (options?: RunStoreOptions) => Promise<RunStoreUnderTest>,
): void {
  describe(`run store conformance: ${name}`, () => {
    let subject: RunStoreUnderTest;
    let store: RunStore;
    const opened: RunStore[] = [];

    beforeEach(async () => {
      subject = await make();
      store = subject.store;
      await store.open();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await store.close();
      await subject.teardown?.();
    });

    const reopen = async (): Promise<RunStore> => {
      const other = subject.reopen();
      opened.push(other);
      await other.open();
      return other;
    };

    it('creates a run with its QUEUED update as seq 1', async () => {
      const run = newRun();
      const first = await store.createRun(run, 'queued p/d/n@v1', Date.parse('2026-01-02T03:04:05.678Z'));
      expect(first).toEqual({
        run_id: run.run_id,
        seq: 1,
        status: 'QUEUED',
        message: 'queued p/d/n@v1',
        at: '2026-01-02T03:04:05.678Z',
      });
      expect(await store.getRun(run.run_id)).toEqual({
        run_id: run.run_id,
        project: 'p',
        domain: 'd',
        task: 'n',
        version: 'v1',
        inputs: { a: 1, list: [], nested: { empty: {} } },
        status: 'QUEUED',
        message: 'queued p/d/n@v1',
        attempt: 1,
        max_attempts: 2,
        created_at: '2026-01-02T03:04:05.678Z',
        updated_at: '2026-01-02T03:04:05.678Z',
        seq: 1,
      });
      expect(await store.updates(run.run_id)).toEqual([first]);
      expect(await store.getRun('r-never-created')).toBeUndefined();
      await expect(store.createRun(run, 'again')).rejects.toThrow();
    });

    it('applies updates in order: seq, status, progress, attempt, start and end times, outputs', async () => {
      const run = newRun();
      const t0 = Date.parse('2026-01-02T03:04:05.000Z');
      await store.createRun(run, 'q', t0);
      const r1 = await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 }, t0 + 1);
      const r2 = await store.apply(run.run_id, { status: 'RUNNING', message: 'r' }, t0 + 2);
      const r3 = await store.apply(run.run_id, { status: 'RUNNING', message: 'half', progress: 50 }, t0 + 3);
      const outputs = { top: [], count: 0, nested: { empty: {} } };
      const r4 = await store.apply(
        run.run_id,
        { status: 'SUCCEEDED', message: 'done', progress: 100, outputs },
        t0 + 4,
      );
      expect([r1, r2, r3, r4].map((r) => (r.applied ? r.update.seq : r.reason))).toEqual([2, 3, 4, 5]);
      expect(r4).toEqual({
        applied: true,
        update: {
          run_id: run.run_id,
          seq: 5,
          status: 'SUCCEEDED',
          message: 'done',
          at: '2026-01-02T03:04:05.004Z',
          progress: 100,
          outputs,
        },
      });
      const record = await store.getRun(run.run_id);
      expect(record).toMatchObject({
        status: 'SUCCEEDED',
        message: 'done',
        seq: 5,
        progress: 100,
        outputs,
        started_at: '2026-01-02T03:04:05.002Z',
        ended_at: '2026-01-02T03:04:05.004Z',
        updated_at: '2026-01-02T03:04:05.004Z',
      });
      expect(record?.error).toBeUndefined();
      const updates = await store.updates(run.run_id);
      expect(updates.map((u) => [u.seq, u.status, u.message, u.progress])).toEqual([
        [1, 'QUEUED', 'q', undefined],
        [2, 'INITIALIZING', 'i', undefined],
        [3, 'RUNNING', 'r', undefined],
        [4, 'RUNNING', 'half', 50],
        [5, 'SUCCEEDED', 'done', 100],
      ]);
      expect(updates.at(-1)).toEqual(r4.applied ? r4.update : undefined);
      expect((await store.updates(run.run_id, 3)).map((u) => u.seq)).toEqual([4, 5]);
      expect((await store.updates(run.run_id, 1, 2)).map((u) => u.seq)).toEqual([2, 3]);
    });

    it('keeps the error of a failed run and moves the attempt on a retry', async () => {
      const run = newRun();
      await store.createRun(run, 'q');
      await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 });
      await store.apply(run.run_id, { status: 'QUEUED', message: 'retrying', attempt: 2, fromAttempt: 1 });
      expect(await store.getRun(run.run_id)).toMatchObject({ status: 'QUEUED', attempt: 2 });
      await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i2', attempt: 2, fromAttempt: 2 });
      const error = { kind: 'USER' as const, message: 'it broke' };
      const end = await store.apply(run.run_id, { status: 'FAILED', message: 'failed: it broke', error });
      expect(end.applied && end.update.error).toEqual(error);
      expect(await store.getRun(run.run_id)).toMatchObject({ status: 'FAILED', attempt: 2, error });
    });

    it('refuses what the state machine forbids, anything after the end, unknown runs, stale attempts and stale seqs', async () => {
      const run = newRun();
      await store.createRun(run, 'q');
      expect(await store.apply(run.run_id, { status: 'RUNNING', message: 'too early' })).toEqual({
        applied: false,
        reason: 'invalid_transition',
        status: 'QUEUED',
      });
      expect(await store.apply('r-unknown', { status: 'INITIALIZING', message: 'i' })).toMatchObject({
        applied: false,
        reason: 'unknown_run',
      });
      await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 });
      await store.apply(run.run_id, { status: 'QUEUED', message: 'again', attempt: 2, fromAttempt: 1 });
      // A report from attempt 1 after attempt 2 was announced: a worker that lost its job.
      expect(
        await store.apply(run.run_id, { status: 'QUEUED', message: 'late', attempt: 2, fromAttempt: 1 }),
      ).toEqual({ applied: false, reason: 'stale_attempt', status: 'QUEUED' });
      const seq = (await store.getRun(run.run_id))?.seq ?? 0;
      expect(await store.apply(run.run_id, { status: 'FAILED', message: 'x', ifSeq: seq - 1 })).toMatchObject(
        { applied: false, reason: 'seq_changed' },
      );
      const aborted = await store.apply(run.run_id, {
        status: 'ABORTED',
        message: 'aborted',
        error: { kind: 'USER', message: 'aborted' },
        ifSeq: seq,
      });
      expect(aborted.applied).toBe(true);
      expect(await store.apply(run.run_id, { status: 'FAILED', message: 'after the end' })).toEqual({
        applied: false,
        reason: 'ended',
        status: 'ABORTED',
      });
      // Refusals leave no trace.
      expect((await store.updates(run.run_id)).map((u) => u.status)).toEqual([
        'QUEUED',
        'INITIALIZING',
        'QUEUED',
        'ABORTED',
      ]);
    });

    it('gives concurrent updates of one run distinct, gap-free seqs', async () => {
      const run = newRun();
      await store.createRun(run, 'q');
      await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 });
      await store.apply(run.run_id, { status: 'RUNNING', message: 'r' });
      const other = await reopen();
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? other : store).apply(run.run_id, { status: 'RUNNING', message: `report ${i}` }),
        ),
      );
      const seqs = results.map((r) => (r.applied ? r.update.seq : 0)).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 4));
      expect((await store.updates(run.run_id)).map((u) => u.seq)).toEqual(
        Array.from({ length: 43 }, (_, i) => i + 1),
      );
      // Exactly one of two racing terminal updates wins.
      const ends = await Promise.all([
        store.apply(run.run_id, { status: 'SUCCEEDED', message: 'a', outputs: 1 }),
        other.apply(run.run_id, { status: 'FAILED', message: 'b', error: { kind: 'SYSTEM', message: 'b' } }),
      ]);
      expect(ends.filter((r) => r.applied)).toHaveLength(1);
    });

    it('lists newest first (creation order within a millisecond), by status, and the unfinished oldest first', async () => {
      const now = Date.parse('2026-03-04T05:06:07.000Z');
      const a = newRun();
      const b = newRun();
      const c = newRun();
      await store.createRun(a, 'q', now);
      await store.createRun(b, 'q', now);
      await store.createRun(c, 'q', now + 1);
      await store.apply(b.run_id, { status: 'ABORTED', message: 'x', error: { kind: 'USER', message: 'x' } });
      await store.apply(c.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 });
      const mine = (records: { run_id: string }[]) =>
        records.map((r) => r.run_id).filter((id) => [a.run_id, b.run_id, c.run_id].includes(id));
      expect(mine(await store.list({ limit: 500 }))).toEqual([c.run_id, b.run_id, a.run_id]);
      expect(mine(await store.list({ status: 'ABORTED', limit: 500 }))).toEqual([b.run_id]);
      expect(mine(await store.list({ status: 'INITIALIZING', limit: 500 }))).toEqual([c.run_id]);
      expect(mine(await store.list({ status: 'QUEUED', limit: 500 }))).toEqual([a.run_id]);
      expect(await store.list({ limit: 1 })).toHaveLength(1);
      expect(mine(await store.listActive())).toEqual([a.run_id, c.run_id]);
    });

    it('records who started a run, keeps its quota internal, and lists by user and by task patterns', async () => {
      const mine = (records: { run_id: string }[], ids: string[]) =>
        records.map((r) => r.run_id).filter((id) => ids.includes(id));
      const alice = newRun({
        user: 'alice',
        quota: { key: 'runs:user:alice', max: 5 },
        project: 'acme',
        domain: 'prod',
        task: 'greet',
      });
      const bob = newRun({ user: 'bob', project: 'acme', domain: 'dev', task: 'greet' });
      const nobody = newRun({ project: 'other', domain: 'prod', task: 'x*y' });
      for (const run of [alice, bob, nobody]) await store.createRun(run, 'q');
      const ids = [alice.run_id, bob.run_id, nobody.run_id];
      expect(await store.getRun(alice.run_id)).toMatchObject({ user: 'alice' });
      expect(await store.getRun(alice.run_id)).not.toHaveProperty('quota');
      expect(await store.getRun(alice.run_id)).not.toHaveProperty('quota_key');
      expect(await store.getRun(nobody.run_id)).not.toHaveProperty('user');

      expect(mine(await store.list({ limit: 500, user: 'alice' }), ids)).toEqual([alice.run_id]);
      expect(await store.list({ limit: 500, user: 'carol' })).toEqual([]);
      expect(await store.list({ limit: 500, tasks: [] })).toEqual([]);
      // Pieces between '*' wildcards, anchored at both ends (`acme/*/greet`, `*/prod/*`, `other/prod/x*y` literally).
      expect(mine(await store.list({ limit: 500, tasks: [['acme/', '/greet']] }), ids)).toEqual([
        bob.run_id,
        alice.run_id,
      ]);
      expect(mine(await store.list({ limit: 500, tasks: [['', '/prod/', '']] }), ids)).toEqual([
        nobody.run_id,
        alice.run_id,
      ]);
      expect(mine(await store.list({ limit: 500, tasks: [['other/prod/x*y']] }), ids)).toEqual([
        nobody.run_id,
      ]);
      expect(mine(await store.list({ limit: 500, tasks: [['acme/prod']] }), ids)).toEqual([]);
      expect(
        mine(
          await store.list({ limit: 500, user: 'bob', tasks: [['acme/', '/greet']], status: 'QUEUED' }),
          ids,
        ),
      ).toEqual([bob.run_id]);
      await store.apply(bob.run_id, {
        status: 'ABORTED',
        message: 'x',
        error: { kind: 'USER', message: 'x' },
      });
      expect(await store.list({ limit: 500, user: 'bob', status: 'QUEUED' })).toEqual([]);
    });

    it('counts active runs against a quota: refuses the one over it, frees a slot at the end or on delete', async () => {
      const key = `runs:user:quota-${n}`;
      const quota = { key, max: 2, who: 'carol' };
      const a = newRun({ user: 'carol', quota });
      const b = newRun({ user: 'carol', quota });
      await store.createRun(a, 'q');
      await store.createRun(b, 'q');
      // Another pool, and runs without a quota, are not counted.
      await store.createRun(newRun({ user: 'dave', quota: { key: `${key}-other`, max: 2 } }), 'q');
      await store.createRun(newRun({ user: 'carol' }), 'q');
      expect(await store.countActive(key)).toBe(2);
      const over = newRun({ user: 'carol', quota });
      const refused = await store.createRun(over, 'q').catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(WirehubError);
      expect(refused).toMatchObject({
        code: 'too_many_runs',
        message: 'carol already has 2 runs in progress; wait for one to end',
        details: { max: 2 },
      });
      // Refused means not stored at all.
      expect(await store.getRun(over.run_id)).toBeUndefined();
      expect((await store.list({ limit: 500 })).map((r) => r.run_id)).not.toContain(over.run_id);

      // Moving between active statuses keeps the slot; a terminal status frees it, once.
      await store.apply(a.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 });
      await store.apply(a.run_id, { status: 'RUNNING', message: 'r' });
      expect(await store.countActive(key)).toBe(2);
      await store.apply(a.run_id, { status: 'SUCCEEDED', message: 'done', outputs: {} });
      expect(await store.countActive(key)).toBe(1);
      expect((await store.apply(a.run_id, { status: 'FAILED', message: 'late' })).applied).toBe(false);
      expect(await store.countActive(key)).toBe(1);
      const c = newRun({ user: 'carol', quota });
      await store.createRun(c, 'q');
      expect(await store.countActive(key)).toBe(2);
      await store.deleteRun(c.run_id);
      expect(await store.countActive(key)).toBe(1);
      // A larger max (the operator raised the limit) applies to the same pool at once.
      await store.createRun(newRun({ user: 'carol', quota: { key, max: 3 } }), 'q');
      expect(await store.countActive(key)).toBe(2);
    });

    it('never lets concurrent creates on two instances exceed a quota', async () => {
      const other = await reopen();
      const key = `runs:user:race-${n}`;
      const quota = { key, max: 3 };
      const attempts = Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : other).createRun(newRun({ user: 'eve', quota }), 'q').then(
          () => 'created',
          (err: unknown) => (err as WirehubError).code,
        ),
      );
      const outcomes = await Promise.all(attempts);
      expect(outcomes.filter((o) => o === 'created')).toHaveLength(3);
      expect(outcomes.filter((o) => o === 'too_many_runs')).toHaveLength(17);
      expect(await store.countActive(key)).toBe(3);
      expect(await other.countActive(key)).toBe(3);
      // An end applied by the other instance frees the slot for this one.
      const [first] = (await other.list({ limit: 500, user: 'eve' })).filter((r) => r.status === 'QUEUED');
      expect(first).toBeDefined();
      await other.apply(first?.run_id ?? '', { status: 'ABORTED', message: 'cancelled' });
      await store.createRun(newRun({ user: 'eve', quota }), 'q');
      expect(await store.countActive(key)).toBe(3);
    });

    it('forgets a deleted run everywhere', async () => {
      const run = newRun();
      await store.createRun(run, 'q');
      await store.deleteRun(run.run_id);
      expect(await store.getRun(run.run_id)).toBeUndefined();
      expect(await store.updates(run.run_id)).toEqual([]);
      expect((await store.list({ limit: 500 })).map((r) => r.run_id)).not.toContain(run.run_id);
      expect((await store.listActive()).map((r) => r.run_id)).not.toContain(run.run_id);
    });

    it('forgets an ended run its retention after it ended, never an active one', async () => {
      const short = await make({ retentionMs: 1000 });
      const s = short.store;
      try {
        await s.open();
        const ended = newRun();
        const active = newRun();
        await s.createRun(ended, 'q');
        await s.createRun(active, 'q');
        await s.apply(ended.run_id, {
          status: 'ABORTED',
          message: 'x',
          error: { kind: 'USER', message: 'x' },
        });
        // Kept until its retention is over.
        expect(await s.getRun(ended.run_id)).toMatchObject({ status: 'ABORTED' });
        await eventually('the ended run to be pruned', async () => {
          await s.prune();
          return (await s.getRun(ended.run_id)) === undefined;
        });
        expect(await s.updates(ended.run_id)).toEqual([]);
        const listed = async (query: { status?: 'ABORTED' | 'QUEUED' }) =>
          (await s.list({ limit: 500, ...query })).map((r) => r.run_id);
        expect(await listed({})).not.toContain(ended.run_id);
        expect(await listed({ status: 'ABORTED' })).not.toContain(ended.run_id);
        // An active run is never pruned, however long ago it was created.
        await s.prune(Date.now() + 365 * 24 * 60 * 60 * 1000);
        expect(await s.getRun(active.run_id)).toMatchObject({ status: 'QUEUED' });
        expect(await s.updates(active.run_id)).toHaveLength(1);
        expect(await listed({})).toContain(active.run_id);
        expect((await s.listActive()).map((r) => r.run_id)).toContain(active.run_id);
        // A pruned run is an unknown run: nothing applies to it.
        expect(await s.apply(ended.run_id, { status: 'FAILED', message: 'late' })).toMatchObject({
          applied: false,
          reason: 'unknown_run',
        });
      } finally {
        await s.close();
        await short.teardown?.();
      }
    });

    it('shows another instance (a restart, or another node) everything that was stored', async () => {
      const run = newRun({ attempt: 2, max_attempts: 3 });
      await store.createRun(run, 'q');
      await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i', attempt: 2 });
      await store.apply(run.run_id, { status: 'RUNNING', message: 'r', progress: 12.5 });
      const other = await reopen();
      expect(await other.getRun(run.run_id)).toEqual(await store.getRun(run.run_id));
      expect(await other.updates(run.run_id)).toEqual(await store.updates(run.run_id));
      expect((await other.listActive()).find((r) => r.run_id === run.run_id)).toMatchObject({
        status: 'RUNNING',
        attempt: 2,
        progress: 12.5,
      });
      // and the other instance continues the same run
      const end = await other.apply(run.run_id, { status: 'SUCCEEDED', message: 's', outputs: null });
      expect(end.applied && end.update.seq).toBe(4);
      expect((await store.getRun(run.run_id))?.status).toBe('SUCCEEDED');
    });

    it('keeps the external run of a run another engine runs (a Flyte run), for a restart to find it', async () => {
      const external = {
        executor: 'flyte',
        id: { org: 'o', project: 'p', domain: 'd', name: 'wh0123' },
        url: 'https://flyte.example/v2/domain/d/project/p/runs/wh0123',
      };
      const run = newRun({ external });
      await store.createRun(run, 'q');
      await store.apply(run.run_id, { status: 'INITIALIZING', message: 'i', attempt: 1 });
      const other = await reopen();
      expect(await other.getRun(run.run_id)).toMatchObject({ external });
      expect((await other.listActive()).find((r) => r.run_id === run.run_id)?.external).toEqual(external);
      expect((await store.list({ limit: 10 })).find((r) => r.run_id === run.run_id)?.external).toEqual(
        external,
      );
      const local = newRun();
      await store.createRun(local, 'q');
      expect(await store.getRun(local.run_id)).not.toHaveProperty('external');
    });
  });
}
