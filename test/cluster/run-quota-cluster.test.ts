import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { eventually } from '../support/cluster.js';
import { type RedisProcess, redisAvailable } from '../support/redis.js';
import { mintToken, SECRET } from '../support/security.js';
import type { RunningServer } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';
import { FIXTURE_TASKS, startRunCluster } from '../support/workers.js';

const MAX = 2;
const SLEEP = '/api/runs/test/fixtures/sleep/v1';

interface Answer {
  status: number;
  body: { run_id?: string; error?: { code: string; message: string; details?: unknown } };
}

async function post(node: { url: string }, token: string, path: string, body: unknown = {}): Promise<Answer> {
  const res = await fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** Starts a run that sleeps until it is aborted; returns its id. */
async function startLongRun(node: { url: string }, token: string): Promise<string> {
  const answer = await post(node, token, SLEEP, { ms: 600_000 });
  expect(answer.status).toBe(202);
  return answer.body.run_id as string;
}

describe.runIf(redisAvailable())('the per-user run limit across a cluster', () => {
  let redis: RedisProcess;
  let A: RunningServer;
  let B: RunningServer;
  let stop: (() => Promise<void>) | undefined;
  const clients: TaskRunnerClient[] = [];

  beforeAll(async () => {
    // Nodes run no jobs themselves: one worker process runs every user's runs.
    ({ redis, A, B, stop } = await startRunCluster(
      { auth: { jwtSecret: SECRET }, limits: { maxRunsPerUser: MAX } },
      ['--concurrency', '8'],
    ));
  });
  afterAll(() => stop?.());
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  async function abortAndWait(node: { url: string; wsUrl: string }, token: string, runId: string) {
    const c = await TaskRunnerClient.connect(node.wsUrl, `?access_token=${token}`);
    clients.push(c);
    c.send({ watch: runId });
    expect((await post(node, token, `/api/runs/${runId}/abort`)).status).toBe(202);
    expect((await c.ended(runId)).status).toBe('ABORTED');
  }

  it('counts runs started on any node: over the limit on one node is over it on all', async () => {
    const alice = await mintToken({ sub: 'alice' });
    const bob = await mintToken({ sub: 'bob' });
    const first = await startLongRun(A, alice);
    const second = await startLongRun(B, alice);
    for (const node of [A, B]) {
      expect(await post(node, alice, SLEEP, { ms: 1 })).toMatchObject({
        status: 429,
        body: { error: { code: 'too_many_runs', details: { max: MAX } } },
      });
    }
    // The /task-runner socket on either node is refused the same way.
    const ws = await TaskRunnerClient.connect(B.wsUrl, `?access_token=${alice}`);
    clients.push(ws);
    expect(
      await ws.request({
        project: 'test',
        domain: 'fixtures',
        task: 'sleep',
        version: 'v1',
        inputs: { ms: 1 },
      }),
    ).toMatchObject({ error: { code: 'too_many_runs' } });
    // Another user is counted apart.
    const bobs = await startLongRun(B, bob);
    expect(await A.server.tasks?.runs.runsInProgress('alice')).toBe(MAX);
    expect(await B.server.tasks?.runs.runsInProgress('alice')).toBe(MAX);

    // Ending alice's run started on A, by aborting it through B, frees a slot on both nodes.
    await abortAndWait(B, alice, first);
    expect(await A.server.tasks?.runs.runsInProgress('alice')).toBe(MAX - 1);
    const third = await startLongRun(A, alice);
    expect((await post(B, alice, SLEEP, { ms: 1 })).status).toBe(429);
    for (const [node, token, id] of [
      [A, alice, second],
      [B, alice, third],
      [A, bob, bobs],
    ] as const) {
      await abortAndWait(node, token, id);
    }
    expect(await B.server.tasks?.runs.runsInProgress('alice')).toBe(0);
  });

  it('lets exactly the limit through when one user fires many runs at both nodes at once', async () => {
    const carol = await mintToken({ sub: 'carol' });
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => post(i % 2 === 0 ? A : B, carol, SLEEP, { ms: 600_000 })),
    );
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted).toHaveLength(MAX);
    expect(answers.filter((a) => a.status === 429 && a.body.error?.code === 'too_many_runs')).toHaveLength(
      24 - MAX,
    );
    // Nothing refused was stored: carol's runs are exactly the accepted ones.
    const listed = await fetch(`${A.url}/api/runs?limit=100`, {
      headers: { authorization: `Bearer ${carol}` },
    });
    const runs = ((await listed.json()) as { runs: { run_id: string; user?: string }[] }).runs
      .filter((r) => r.user === 'carol')
      .map((r) => r.run_id);
    expect(runs.sort()).toEqual(accepted.map((a) => a.body.run_id as string).sort());
    for (const a of accepted) await abortAndWait(A, carol, a.body.run_id as string);
    expect(await A.server.tasks?.runs.runsInProgress('carol')).toBe(0);
  });

  it('a node SIGKILLed holds nothing: its users stay limited while their runs go on, and are freed when they end', async () => {
    // A real `wirehub serve` process as a third node, killed without a goodbye.
    const doomed: CliServer = await startCliServer(['--data-dir', mkdtempSync(join(tmpdir(), 'wh-quota-'))], {
      WIREHUB_REDIS_URL: redis.url,
      WIREHUB_JWT_SECRET: SECRET,
      WIREHUB_MAX_RUNS_PER_USER: String(MAX),
      WIREHUB_TASKS: FIXTURE_TASKS,
      WIREHUB_TASK_WORKERS: '0',
    });
    const dave = await mintToken({ sub: 'dave' });
    const runs = [await startLongRun(doomed, dave), await startLongRun(doomed, dave)];
    // Both are running on the worker before the node dies.
    const watcher = await TaskRunnerClient.connect(A.wsUrl, `?access_token=${dave}`);
    clients.push(watcher);
    for (const id of runs) {
      watcher.send({ watch: id });
      await watcher.when(id, (u) => u.message === 'sleeping');
    }
    doomed.child.kill('SIGKILL');
    expect((await doomed.exited).signal).toBe('SIGKILL');

    // The runs are still in progress on the worker, so dave is still at his limit...
    expect(await post(A, dave, SLEEP, { ms: 1 })).toMatchObject({
      status: 429,
      body: { error: { code: 'too_many_runs' } },
    });
    // ...and when one ends (aborted through a surviving node), exactly one slot comes back.
    const [gone, kept] = runs as [string, string];
    expect((await post(B, dave, `/api/runs/${gone}/abort`)).status).toBe(202);
    expect((await watcher.ended(gone)).status).toBe('ABORTED');
    const next = await startLongRun(A, dave);
    expect((await post(B, dave, SLEEP, { ms: 1 })).status).toBe(429);
    for (const id of [kept, next]) await abortAndWait(B, dave, id);
    await eventually(
      'dave to have no run in progress',
      async () => (await A.server.tasks?.runs.runsInProgress('dave')) === 0,
    );
  });
});
