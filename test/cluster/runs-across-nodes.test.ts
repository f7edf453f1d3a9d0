import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, RunUpdate } from '../../src/tasks/runs/types.js';
import { get } from '../support/cluster.js';
import { type RedisProcess, redisAvailable } from '../support/redis.js';
import type { RunningServer } from '../support/server.js';
import { contiguous, TaskRunnerClient } from '../support/task-runner-client.js';
import { type CliWorker, startRunCluster } from '../support/workers.js';

type RunView = RunRecord & { updates: RunUpdate[]; url: string };

async function post(
  node: RunningServer,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.runIf(redisAvailable())(
  'runs across nodes: a BullMQ queue, a wirehub worker, records in Redis',
  () => {
    let redis: RedisProcess;
    let A: RunningServer;
    let B: RunningServer;
    let worker: CliWorker;
    let stop: (() => Promise<void>) | undefined;
    const clients: TaskRunnerClient[] = [];

    beforeAll(async () => {
      // The nodes run no jobs themselves (--task-workers 0): the worker process does.
      ({ redis, A, B, worker, stop } = await startRunCluster({}, ['--concurrency', '2']));
    });
    afterAll(() => stop?.());
    afterEach(() => {
      for (const c of clients.splice(0)) c.close();
    });

    async function client(node: RunningServer): Promise<TaskRunnerClient> {
      const c = await TaskRunnerClient.connect(node.wsUrl);
      clients.push(c);
      return c;
    }

    it('a run started on node A is run by the worker; node B streams it and serves the same record', async () => {
      const onB = await client(B);
      const started = await post(A, '/api/runs/demo/development/countdown/v1', { n: 2, delayMs: 20 });
      expect(started.status).toBe(202);
      const id = started.body.run_id as string;
      onB.send({ watch: id });
      const end = await onB.ended(id);
      expect(end).toMatchObject({ status: 'SUCCEEDED', outputs: { counted: 2, message: 'liftoff' } });
      const updates = onB.updates(id);
      expect(contiguous(updates.map((u) => u.seq))).toBe(true);
      expect(updates.map((u) => u.status)).toEqual([
        'QUEUED',
        'INITIALIZING',
        'RUNNING',
        'RUNNING',
        'RUNNING',
        'RUNNING',
        'SUCCEEDED',
      ]);
      expect(updates[1]?.message).toBe(`picked up by worker ${worker.name} (attempt 1 of 1)`);
      expect(updates[2]?.message).toMatch(
        new RegExp(`^running on worker thread \\d+ of worker ${worker.name}`),
      );

      const onA = (await get(A, `/api/runs/${id}`)).body as RunView;
      const onBRest = (await get(B, `/api/runs/${id}`)).body as RunView;
      expect({ ...onBRest, url: '' }).toEqual({ ...onA, url: '' });
      expect(onA).toMatchObject({ status: 'SUCCEEDED', attempt: 1, seq: 7 });
      expect(Date.parse(onA.started_at ?? '')).toBeLessThanOrEqual(Date.parse(onA.ended_at ?? ''));
      expect(onA.updates).toEqual(updates);
      const listed = (await get(B, '/api/runs?status=SUCCEEDED')).body as { runs: RunRecord[] };
      expect(listed.runs.map((r) => r.run_id)).toContain(id);
    });

    it('a run started over /task-runner on node B streams live from the worker, with progress', async () => {
      const onB = await client(B);
      const onA = await client(A);
      const id = await onB.start('countdown', { n: 2, delayMs: 20 });
      onA.send({ watch: id });
      const [endB, endA] = await Promise.all([onB.ended(id), onA.ended(id)]);
      expect(endB.status).toBe('SUCCEEDED');
      expect(endA).toEqual(endB);
      expect(onB.updates(id)).toEqual(onA.updates(id));
      expect(onB.updates(id).map((u) => u.progress)).toEqual([
        undefined,
        undefined,
        undefined,
        0,
        50,
        100,
        100,
      ]);
    });

    it('cancel on node B stops the task on the worker for a run started on node A', async () => {
      const onB = await client(B);
      const started = await post(A, '/api/runs/test/fixtures/sleep/v1', { ms: 60_000 });
      const id = started.body.run_id as string;
      onB.send({ watch: id });
      await onB.when(id, (u) => u.message === 'sleeping');
      const abort = await post(B, `/api/runs/${id}/abort`);
      expect(abort.status).toBe(202);
      const end = await onB.ended(id);
      expect(end).toMatchObject({
        status: 'ABORTED',
        error: { kind: 'USER', message: 'aborted on request' },
      });
      // Aborting again is refused on either node.
      expect((await post(A, `/api/runs/${id}/abort`)).status).toBe(409);
      // The worker's slots are free again: two runs at once both finish.
      const ids = [
        await onB.start('countdown', { n: 1, delayMs: 0 }),
        await onB.start('countdown', { n: 1, delayMs: 0 }),
      ];
      for (const runId of ids) expect((await onB.ended(runId)).status).toBe('SUCCEEDED');
    });

    it('a queued run is aborted without running: the worker never picks it up', async () => {
      const onA = await client(A);
      // Two sleepers fill the worker's two slots; the third run waits in the queue.
      const blockers = [
        await onA.start('sleep', { ms: 60_000 }, 'test', 'fixtures'),
        await onA.start('sleep', { ms: 60_000 }, 'test', 'fixtures'),
      ];
      for (const b of blockers) await onA.when(b, (u) => u.message === 'sleeping');
      const queued = await onA.start('countdown', { n: 1, delayMs: 0 });
      onA.send({ cancel: queued });
      expect((await onA.ended(queued)).status).toBe('ABORTED');
      expect(onA.updates(queued).map((u) => u.status)).toEqual(['QUEUED', 'ABORTED']);
      for (const b of blockers) onA.send({ cancel: b });
      for (const b of blockers) expect((await onA.ended(b)).status).toBe('ABORTED');
    });

    it('a run ended by a node while a worker still runs it: the worker stops the task at its next report', async () => {
      const onA = await client(A);
      const id = await onA.start('countdown', { n: 1000, delayMs: 20 });
      await onA.when(id, (u) => u.message === '998…');
      // The queue forgets the run (as after a partial loss of Redis data): cancel finds no job
      // to stop, so the node ends the run itself...
      const redisClient = new Redis(redis.url);
      expect(await redisClient.zrem('wirehub:bull:runs:wh:admitted', id)).toBe(1);
      await redisClient.quit();
      onA.send({ cancel: id });
      expect(await onA.ended(id)).toMatchObject({ status: 'ABORTED' });
      // ...and the worker, whose next report is refused, stops the task: both slots serve new runs.
      const sleeper = await onA.start('sleep', { ms: 60_000 }, 'test', 'fixtures');
      const quick = await onA.start('countdown', { n: 1, delayMs: 0 });
      expect((await onA.ended(quick)).status).toBe('SUCCEEDED');
      onA.send({ cancel: sleeper });
      expect((await onA.ended(sleeper)).status).toBe('ABORTED');
      const record = (await get(A, `/api/runs/${id}`)).body as RunView;
      expect(record.updates.at(-1)?.status).toBe('ABORTED');
    });
  },
);
