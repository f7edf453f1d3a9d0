import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerOptions } from '../../src/server/options.js';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { API_KEY, Bystander, http, mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

let srv: RunningServer | undefined;
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await srv?.close();
  srv = undefined;
});

const COUNTDOWN = '/api/runs/demo/development/countdown/v1';
/** Long enough to still be going when the test is done with it. */
const long = { n: 1000, delayMs: 50 };

function options(dataDir: string): ServerOptions {
  return {
    dataDir,
    auth: { jwtSecret: SECRET, apiKeys: [API_KEY] },
    limits: { maxRunsPerUser: 2 },
    tasks: { poolSize: 1 },
  };
}

async function start(token: string, inputs: unknown = long) {
  const r = await http(`${srv?.url}${COUNTDOWN}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(inputs),
  });
  return { status: r.status, body: JSON.parse(r.body) as { run_id: string; error?: { code: string } } };
}

describe('concurrent runs per user', () => {
  it('refuses a user over the limit on every way in, counts users apart, and frees a slot when a run ends', async () => {
    srv = await startServer(options(tempDir()));
    const bystander = await Bystander.start(srv.wsUrl, { headers: { authorization: `Bearer ${API_KEY}` } });
    const alice = await mintToken({ sub: 'alice' });
    const bob = await mintToken({ sub: 'bob' });
    const first = await start(alice);
    const second = await start(alice);
    expect([first.status, second.status]).toEqual([202, 202]);

    const third = await start(alice);
    expect(third).toEqual({
      status: 429,
      body: {
        error: {
          code: 'too_many_runs',
          message: 'alice already has 2 runs in progress; wait for one to end',
          details: { max: 2 },
        },
      },
    });
    const rt = await RtClient.connect(`${srv.wsUrl}/rt?access_token=${alice}`);
    closers.push(() => rt.ws.terminate());
    expect(
      await rt.request('run', {
        project: 'demo',
        domain: 'development',
        task: 'countdown',
        version: 'v1',
        inputs: long,
      }),
    ).toMatchObject({ op: 'error', code: 'too_many_runs', details: { max: 2 } });
    const runner = await TestClient.connect(`${srv.wsUrl}/task-runner?access_token=${alice}`);
    closers.push(() => runner.ws.terminate());
    await runner.send(
      JSON.stringify({ project: 'demo', domain: 'development', task: 'countdown', inputs: long }),
    );
    expect(await runner.nextJson()).toMatchObject({ error: { code: 'too_many_runs' } });
    await bystander.checkpoint();

    // Another user has slots of their own; servers with an API key are not limited.
    expect((await start(bob)).status).toBe(202);
    for (let i = 0; i < 3; i += 1) expect((await start(API_KEY)).status).toBe(202);
    const runs = srv.server.tasks?.runs;
    expect(await runs?.runsInProgress('alice')).toBe(2);
    expect(await runs?.runsInProgress('bob')).toBe(1);

    // A run that ends gives its slot back.
    await rt.call('cancel', { run: first.body.run_id });
    await runs?.waitForEnd(first.body.run_id);
    await vi.waitFor(async () => expect(await runs?.runsInProgress('alice')).toBe(1));
    const again = await start(alice);
    expect(again.status).toBe(202);
    expect(await bystander.stop()).toBeGreaterThan(0);
  });

  it('keeps counting the runs a restart re-queues', async () => {
    const dataDir = tempDir();
    srv = await startServer(options(dataDir));
    const alice = await mintToken({ sub: 'alice' });
    const running = await start(alice);
    // A worker thread takes a moment to start.
    await expect
      .poll(() => srv?.server.tasks?.runs.get(running.body.run_id)?.status, { timeout: 15_000, interval: 20 })
      .toBe('RUNNING');
    // One worker thread: this one waits in the queue, its attempt unused.
    const queued = await start(alice);
    expect(srv.server.tasks?.runs.get(queued.body.run_id)?.status).toBe('QUEUED');
    await srv.close();

    srv = await startServer(options(dataDir));
    const runs = srv.server.tasks?.runs;
    // The running one used its only attempt and failed; the queued one is queued again and holds a slot.
    expect(runs?.get(running.body.run_id)?.status).toBe('FAILED');
    expect(runs?.get(queued.body.run_id)?.status).not.toMatch(/FAILED|ABORTED|SUCCEEDED/);
    expect(await runs?.runsInProgress('alice')).toBe(1);
    expect((await start(alice)).status).toBe(202);
    expect((await start(alice)).status).toBe(429);
  });
});
