import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/tasks/runs/types.js';
import { eventually } from '../support/cluster.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

let srv: RunningServer;
let c: TaskRunnerClient;

beforeAll(async () => {
  // The SQLite store prunes by itself every retention (at least every second).
  srv = await startServer({ tasks: { poolSize: 2, runRetentionMs: 1000 } });
  c = await TaskRunnerClient.connect(srv.wsUrl);
});

afterAll(async () => {
  c?.close();
  await srv?.close();
});

const listed = async (): Promise<string[]> => {
  const res = await fetch(`${srv.url}/api/runs?limit=100`);
  return ((await res.json()) as { runs: RunRecord[] }).runs.map((r) => r.run_id);
};

describe('run retention (runRetentionMs)', () => {
  it('forgets an ended run after it, like an unknown run everywhere; a running one stays', async () => {
    const ended = await c.start('word-count', { text: 'short lived' });
    expect(await c.ended(ended)).toMatchObject({ status: 'SUCCEEDED' });
    const running = await c.start('countdown', { n: 600, delayMs: 50 });
    await c.when(running, (u) => u.status === 'RUNNING');
    expect((await fetch(`${srv.url}/api/runs/${ended}`)).status).toBe(200);

    const gone = await eventually(
      'the ended run to be pruned',
      async () => {
        const res = await fetch(`${srv.url}/api/runs/${ended}`);
        return res.status === 404 && ((await res.json()) as { error: { code: string } });
      },
      15_000,
      100,
    );
    expect(gone.error.code).toBe('unknown_run');
    expect(await c.request({ watch: ended })).toMatchObject({
      error: { code: 'unknown_run', details: { run_id: ended } },
    });
    expect((await fetch(`${srv.url}/runs/${ended}`)).status).toBe(404);
    expect(await listed()).not.toContain(ended);

    // Running for longer than the retention, and still there.
    const still = await fetch(`${srv.url}/api/runs/${running}`);
    expect(still.status).toBe(200);
    expect(await listed()).toContain(running);
    c.send({ cancel: running });
    expect(await c.ended(running)).toMatchObject({ status: 'ABORTED' });
  });
});
