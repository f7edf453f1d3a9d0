import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QueueKeys } from '../../src/tasks/executors/bullmq/queue-keys.js';
import { RedisRunStore } from '../../src/tasks/runs/redis/store.js';
import { type CliServer, startCliServer } from '../support/cli.js';
import { eventually } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';
import { contiguous, TaskRunnerClient } from '../support/task-runner-client.js';
import { type CliWorker, FIXTURE_TASKS, startCliWorker } from '../support/workers.js';

describe.runIf(redisAvailable())(
  'the task runner with --redis: serve alone, worker drain, node restart',
  () => {
    let redis: RedisProcess;
    const clients: TaskRunnerClient[] = [];
    const stops: (() => Promise<unknown>)[] = [];

    beforeAll(async () => {
      redis = await RedisProcess.start();
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      for (const stop of stops.splice(0).reverse()) await stop();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    async function client(wsUrl: string): Promise<TaskRunnerClient> {
      const c = await TaskRunnerClient.connect(wsUrl);
      clients.push(c);
      return c;
    }
    async function worker(args: string[] = []): Promise<CliWorker> {
      const w = await startCliWorker(redis.url, args);
      stops.push(() => w.kill());
      return w;
    }
    async function node(poolSize: number): Promise<RunningServer> {
      const n = await startServer({ redis: redis.url, tasks: { modules: [FIXTURE_TASKS], poolSize } });
      stops.push(() => n.close());
      return n;
    }

    it('one `wirehub serve --redis` node runs tasks itself, no separate worker needed', async () => {
      const serve: CliServer = await startCliServer([
        '--redis',
        redis.url,
        '--task-workers',
        '1',
        '--tasks',
        FIXTURE_TASKS,
      ]);
      stops.push(async () => {
        serve.child.kill('SIGKILL');
        await serve.exited;
      });
      const c = await client(serve.wsUrl);
      const id = await c.start('countdown', { n: 2, delayMs: 0 });
      expect(await c.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { counted: 2 } });
      expect(c.updates(id)[1]?.message).toMatch(/^picked up by worker \S+ \(attempt 1 of 1\)$/);
    });

    it('SIGTERM drains a worker: a run that ends within --drain-timeout finishes there, then it exits 0', async () => {
      const n = await node(0);
      const w = await worker(['--drain-timeout', '20s']);
      const c = await client(n.wsUrl);
      const id = await c.start('countdown', { n: 3, delayMs: 300 });
      await c.when(id, (u) => u.message === '3…');
      w.child.kill('SIGTERM');
      expect(await c.ended(id)).toMatchObject({ status: 'SUCCEEDED' });
      expect(await w.exited).toEqual({ code: 0, signal: null });
      expect(c.updates(id).filter((u) => u.status === 'INITIALIZING')).toHaveLength(1);
    });

    it('SIGTERM drains a worker: a run still going after --drain-timeout is handed back and retried by another worker', async () => {
      const n = await node(0);
      const leaving = await worker(['--drain-timeout', '200ms']);
      const c = await client(n.wsUrl);
      const id = await c.start('patient', { ms: 600_000 }, 'test', 'fixtures');
      await c.when(id, (u) => u.message === 'first attempt: sleeping');
      const staying = await worker();
      leaving.child.kill('SIGTERM');
      expect(await leaving.exited).toEqual({ code: 0, signal: null });
      const end = await c.ended(id);
      expect(end).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 2 } });
      const updates = c.updates(id);
      expect(contiguous(updates.map((u) => u.seq))).toBe(true);
      const requeue = updates.find((u) => u.status === 'QUEUED' && u.seq !== 1);
      expect(requeue?.message).toBe(
        `attempt 1 of 2 failed (SYSTEM: interrupted: worker ${leaving.name} shut down); retrying in 1000 ms`,
      );
      expect(updates.filter((u) => u.status === 'INITIALIZING').at(-1)?.message).toBe(
        `picked up by worker ${staying.name} (attempt 2 of 2)`,
      );
    });

    it('a node restart leaves queued runs to the queue and re-queues or fails the runs nobody holds', async () => {
      const first = await node(0);
      const c = await client(first.wsUrl);
      // Queued with no worker anywhere: it waits in Redis, untouched by the restart.
      const waiting = await c.start('countdown', { n: 1, delayMs: 0 });
      // Two runs left behind by a node that crashed after storing them, before queueing them
      // (their records say RUNNING, a minute ago; no job exists).
      const store = new RedisRunStore({ url: redis.url });
      await store.open();
      const minuteAgo = Date.now() - 60_000;
      const orphan = async (task: string, maxAttempts: number) => {
        const runId = `r-orphan-${task}`;
        await store.createRun(
          {
            run_id: runId,
            project: 'test',
            domain: 'fixtures',
            task,
            version: 'v1',
            inputs: { ms: 600_000 },
            attempt: 1,
            max_attempts: maxAttempts,
          },
          'queued',
          minuteAgo,
        );
        await store.apply(runId, { status: 'INITIALIZING', message: 'i', attempt: 1 }, minuteAgo);
        await store.apply(runId, { status: 'RUNNING', message: 'r' }, minuteAgo);
        return runId;
      };
      const retried = await orphan('patient', 2);
      const failed = await orphan('sleep', 1);
      await store.close();

      await first.close();
      const second = await node(1);
      const c2 = await client(second.wsUrl);
      for (const id of [waiting, retried, failed]) c2.send({ watch: id });
      expect(await c2.ended(waiting)).toMatchObject({ status: 'SUCCEEDED' });
      expect(c2.updates(waiting).map((u) => u.status)).toEqual([
        'QUEUED',
        'INITIALIZING',
        'RUNNING',
        'RUNNING',
        'RUNNING',
        'SUCCEEDED',
      ]);
      expect(await c2.ended(retried)).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 2 } });
      expect(c2.updates(retried).map((u) => u.message)).toContain(
        're-queued after a server restart (attempt 2 of 2)',
      );
      expect(await c2.ended(failed)).toMatchObject({
        status: 'FAILED',
        error: { kind: 'SYSTEM', message: 'interrupted: server restarted' },
      });
    });

    it('takes over a run whose job Redis lost while every process kept running', async () => {
      // A node that runs nothing itself and looks for lost attempts every 300 ms.
      const n = await startServer({
        redis: redis.url,
        tasks: { modules: [FIXTURE_TASKS], poolSize: 0, orphanGraceMs: 300 },
      });
      stops.push(() => n.close());
      const c = await client(n.wsUrl);
      const id = await c.start('countdown', { n: 1, delayMs: 0 });
      // Redis "loses" the queued job (an AOF everysec restart can drop the last second of
      // writes): the run record stays QUEUED, no worker will ever see the job.
      const keys = new QueueKeys('wirehub:', 'runs');
      const admin = new Redis(redis.url);
      try {
        await admin.lrem(`${keys.jobPrefix}wait`, 0, id);
        await admin.del(`${keys.jobPrefix}${id}`);
      } finally {
        admin.disconnect();
      }
      const requeued = 're-queued after its attempt was lost (attempt 1 of 1)';
      await eventually('the lost run taken over', async () =>
        c.updates(id).some((u) => u.message === requeued),
      );
      // The new job is real: a worker that starts now runs it to the end, once.
      await worker();
      expect(await c.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { counted: 1 } });
      expect(c.updates(id).filter((u) => u.status === 'SUCCEEDED')).toHaveLength(1);
    });

    it("keeps the per-user run limit when a worker process ends the user's run", async () => {
      const n = await startServer({
        redis: redis.url,
        auth: { jwtSecret: SECRET },
        limits: { maxRunsPerUser: 1 },
        tasks: { modules: [FIXTURE_TASKS], poolSize: 0 },
      });
      stops.push(() => n.close());
      await worker();
      const alice = await mintToken({ sub: 'alice' });
      const post = async (path: string, body?: unknown) => {
        const res = await fetch(`${n.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          body: JSON.stringify(body ?? {}),
        });
        return {
          status: res.status,
          body: (await res.json()) as { run_id: string; error?: { code: string } },
        };
      };
      const first = await post('/api/runs/test/fixtures/sleep/v1', { ms: 60_000 });
      expect(first.status).toBe(202);
      const refused = await post('/api/runs/test/fixtures/sleep/v1', { ms: 1 });
      expect(refused).toMatchObject({ status: 429, body: { error: { code: 'too_many_runs' } } });
      const c = await TaskRunnerClient.connect(n.wsUrl, `?access_token=${alice}`);
      clients.push(c);
      c.send({ watch: first.body.run_id });
      await c.when(first.body.run_id, (u) => u.message === 'sleeping');
      // The worker process applies the end; the node that holds the slot sees it on run:<id>.
      expect((await post(`/api/runs/${first.body.run_id}/abort`)).status).toBe(202);
      expect((await c.ended(first.body.run_id)).status).toBe('ABORTED');
      await eventually(
        'the slot to be given back',
        async () => (await n.server.tasks?.runs.runsInProgress('alice')) === 0,
      );
      expect((await post('/api/runs/test/fixtures/sleep/v1', { ms: 1 })).status).toBe(202);
    });
  },
);
