import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { type RunningServer, startServer } from '../support/server.js';
import { contiguous, TaskRunnerClient } from '../support/task-runner-client.js';

async function call(node: RunningServer, method: string, path: string, body?: unknown) {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Starts a run as soon as the node accepts one again (polled: its reconnect is only visible by asking), watched. */
async function watchedRunOnceAccepted(node: RunningServer) {
  const accepted = await eventually('a run accepted again', async () => {
    const r = await call(node, 'POST', '/api/runs/demo/development/countdown/v1', { n: 1, delayMs: 0 });
    return r.status === 202 ? r : undefined;
  });
  const id = accepted.body.run_id as string;
  const watcher = await TaskRunnerClient.connect(node.wsUrl);
  watcher.send({ watch: id });
  return { id, watcher };
}

describe.runIf(redisAvailable())('the task runner while Redis is down', () => {
  let redis: RedisProcess;
  let node: RunningServer;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    node = await startServer({ redis: redis.url, tasks: { poolSize: 1 } });
  });
  afterAll(async () => {
    await node?.close();
    await redis?.stop();
  });

  it('answers 503 broker_unavailable (not a 500), then works again once Redis is back', async () => {
    const before = await call(node, 'POST', '/api/runs/demo/development/countdown/v1', { n: 1, delayMs: 0 });
    expect(before.status).toBe(202);
    const id = before.body.run_id as string;
    const watcher = await TaskRunnerClient.connect(node.wsUrl);
    watcher.send({ watch: id });
    expect((await watcher.ended(id)).status).toBe('SUCCEEDED');
    watcher.close();

    await redis.kill();
    const start = await call(node, 'POST', '/api/runs/demo/development/countdown/v1', { n: 1, delayMs: 0 });
    expect(start.status).toBe(503);
    expect(start.body).toMatchObject({ error: { code: 'broker_unavailable' } });
    const read = await call(node, 'GET', `/api/runs/${id}`);
    expect(read.status).toBe(503);
    expect(read.body).toMatchObject({ error: { code: 'broker_unavailable' } });
    expect((await call(node, 'GET', '/api/runs')).status).toBe(503);

    // Back, empty (no persistence): the old run is gone, new runs work.
    await redis.restart();
    const { id: next, watcher: again } = await watchedRunOnceAccepted(node);
    expect((await again.ended(next)).status).toBe('SUCCEEDED');
    again.close();
    expect((await call(node, 'GET', `/api/runs/${id}`)).status).toBe(404);
  });

  // The run store and the broker are two links: after a restart the store's can be back first,
  // so a run goes on (its updates stored) while the broker still refuses their publication.
  // Each cycle starts a run at once after Redis is back; its watcher must get every update, in
  // order, to the end. Before the run publisher retried, some cycle lost the terminal update.
  it('never loses a stored run update to a broker link that comes back after the store', async () => {
    const outcomes: string[] = [];
    for (let cycle = 0; cycle < 40; cycle++) {
      await redis.kill();
      await redis.restart();
      const { id, watcher } = await watchedRunOnceAccepted(node);
      const end = await watcher.ended(id);
      const seqs = watcher.updates(id).map((u) => u.seq);
      outcomes.push(`${end.status} ${contiguous(seqs) ? 'contiguous' : `gap ${seqs.join(',')}`}`);
      watcher.close();
    }
    expect(outcomes).toEqual(outcomes.map(() => 'SUCCEEDED contiguous'));
  }, 120_000);
});
