import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { type RunningServer, startServer } from '../support/server.js';
import { contiguous, TaskRunnerClient } from '../support/task-runner-client.js';
import { type CliWorker, FIXTURE_TASKS, startCliWorker } from '../support/workers.js';

// Short locks so a dead worker is noticed in about a second, not the default 30 s.
const FAST_STALL = ['--lock-duration', '1s', '--stalled-interval', '300ms'];

describe.runIf(redisAvailable())('a wirehub worker SIGKILLed mid-run', () => {
  let redis: RedisProcess;
  let node: RunningServer;
  const workers: CliWorker[] = [];
  let client: TaskRunnerClient;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    node = await startServer({ redis: redis.url, tasks: { modules: [FIXTURE_TASKS], poolSize: 0 } });
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    await node?.close();
    await redis?.stop();
  });
  afterEach(() => client?.close());

  /** Two idle workers, so whichever takes the run, another one survives its death. */
  async function twoWorkers(): Promise<void> {
    while (workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length < 2) {
      workers.push(await startCliWorker(redis.url, FAST_STALL));
    }
  }

  /** Kills the worker named in the run's INITIALIZING update; returns its name. */
  async function killWorkerOf(runId: string, attempt: number): Promise<string> {
    const init = await client.when(
      runId,
      (u) => u.status === 'INITIALIZING' && u.message?.includes(`attempt ${attempt} of`) === true,
    );
    const name = /picked up by worker (\S+)/.exec(init.message ?? '')?.[1];
    const victim = workers.find((w) => w.name === name);
    if (!victim) throw new Error(`no worker named ${name}`);
    await victim.kill();
    expect(victim.child.signalCode).toBe('SIGKILL');
    return victim.name;
  }

  it('is noticed (stalled job) and the run is retried by another worker: attempt 2, QUEUED → INITIALIZING → … → SUCCEEDED', async () => {
    await twoWorkers();
    client = await TaskRunnerClient.connect(node.wsUrl);
    // `patient` sleeps on its first attempt only, and has one retry.
    const id = await client.start('patient', { ms: 600_000 }, 'test', 'fixtures');
    await client.when(id, (u) => u.message === 'first attempt: sleeping');
    const dead = await killWorkerOf(id, 1);

    const end = await client.ended(id);
    expect(end).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 2 } });
    const updates = client.updates(id);
    expect(contiguous(updates.map((u) => u.seq))).toBe(true);
    expect(updates.map((u) => u.status)).toEqual([
      'QUEUED',
      'INITIALIZING',
      'RUNNING',
      'RUNNING',
      'QUEUED',
      'INITIALIZING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    expect(updates[4]?.message).toBe(
      'attempt 1 of 2 was lost: its worker stopped answering (killed, crashed or cut off from Redis); retrying',
    );
    expect(updates[5]?.message).toMatch(/^picked up by worker \S+ \(attempt 2 of 2\)$/);
    expect(updates[5]?.message).not.toContain(dead);
    const record = (await (await fetch(`${node.url}/api/runs/${id}`)).json()) as {
      attempt: number;
      status: string;
    };
    expect(record).toMatchObject({ attempt: 2, status: 'SUCCEEDED' });
  });

  it('fails the run visibly with a SYSTEM error when it has no retry left', async () => {
    await twoWorkers();
    client = await TaskRunnerClient.connect(node.wsUrl);
    const id = await client.start('sleep', { ms: 600_000 }, 'test', 'fixtures');
    await client.when(id, (u) => u.message === 'sleeping');
    await killWorkerOf(id, 1);

    const end = await client.ended(id);
    const lost =
      'attempt 1 of 1 was lost: its worker stopped answering (killed, crashed or cut off from Redis); no attempts left';
    expect(end).toMatchObject({
      status: 'FAILED',
      message: `failed: ${lost}`,
      error: { kind: 'SYSTEM', message: lost },
    });
    expect(client.updates(id).map((u) => u.status)).toEqual([
      'QUEUED',
      'INITIALIZING',
      'RUNNING',
      'RUNNING',
      'FAILED',
    ]);
    // Nothing is left occupying the queue: the surviving worker takes new runs at once.
    const next = await client.start('countdown', { n: 1, delayMs: 0 });
    expect((await client.ended(next)).status).toBe('SUCCEEDED');
  });
});
