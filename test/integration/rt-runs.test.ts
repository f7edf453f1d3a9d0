import { afterEach, describe, expect, it } from 'vitest';
import { RtClient, RtCommandError } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer | undefined;
const clients: RtClient[] = [];

async function rt(server: RunningServer): Promise<RtClient> {
  const c = await RtClient.connect(`${server.wsUrl}/rt`);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await srv?.close();
  srv = undefined;
});

const countdown = (n: number, delayMs: number) => ({
  project: 'demo',
  domain: 'development',
  task: 'countdown',
  version: 'v1',
  inputs: { n, delayMs },
});

type RunPush = {
  op: 'run';
  run: string;
  status: string;
  message?: string;
  progress?: number;
  outputs?: unknown;
};

async function runPushesUntilEnd(c: RtClient, run: string): Promise<RunPush[]> {
  const pushes: RunPush[] = [];
  for (;;) {
    const p = (await c.nextPush((x) => x.op === 'run' && (x as RunPush).run === run)) as RunPush;
    pushes.push(p);
    if (['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'].includes(p.status)) return pushes;
  }
}

describe('/rt run and cancel', () => {
  it('starts a run, replies with its id, URL and channel, then pushes every update to SUCCEEDED', async () => {
    srv = await startServer({ tasks: { poolSize: 1 } });
    const c = await rt(srv);
    const reply = await c.call<{ run: string; url: string; status: string; channel: string }>(
      'run',
      countdown(3, 5),
    );
    expect(reply.status).toBe('QUEUED');
    expect(reply.url).toBe(`${srv.url}/runs/${reply.run}`);
    expect(reply.channel).toBe(`run:${reply.run}`);
    const pushes = await runPushesUntilEnd(c, reply.run);
    const statuses = pushes.map((p) => p.status);
    expect(statuses[0]).toBe('QUEUED');
    expect(statuses).toContain('INITIALIZING');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(pushes.at(-1)).toMatchObject({ outputs: { counted: 3, message: 'liftoff' } });
    expect(pushes.some((p) => typeof p.progress === 'number')).toBe(true);
    // The same updates are on the run's channel, with history, for any subscriber.
    const other = await rt(srv);
    const history = await other.call<{ publications: { data: { status: string } }[] }>('history', {
      channel: reply.channel,
    });
    expect(history.publications.map((p) => p.data.status)).toEqual(statuses);
  });

  it('cancels a run: the reply, then an ABORTED push', async () => {
    srv = await startServer({ tasks: { poolSize: 1, abortGraceMs: 100 } });
    const c = await rt(srv);
    const { run } = await c.call<{ run: string }>('run', countdown(1000, 50));
    await c.nextPush((p) => p.op === 'run' && (p as RunPush).status === 'RUNNING');
    await c.call('cancel', { run });
    const pushes = await runPushesUntilEnd(c, run);
    expect(pushes.at(-1)?.status).toBe('ABORTED');
    await expect(c.call('cancel', { run })).rejects.toMatchObject({ code: 'run_finished' });
  });

  it('refuses unknown tasks and bad inputs with catalog errors, and the socket stays open', async () => {
    srv = await startServer({ tasks: { poolSize: 1 } });
    const c = await rt(srv);
    await expect(c.call('run', { ...countdown(1, 1), task: 'nope' })).rejects.toMatchObject({
      code: 'unknown_task',
    });
    const bad = c.call('run', countdown(0, 1));
    await expect(bad).rejects.toBeInstanceOf(RtCommandError);
    await expect(bad).rejects.toMatchObject({ code: 'invalid_inputs' });
    await expect(c.call('cancel', { run: 'r-none' })).rejects.toMatchObject({ code: 'unknown_run' });
    expect(await c.call('ping')).toEqual({});
  });

  it('keeps a run going when its client disconnects', async () => {
    srv = await startServer({ tasks: { poolSize: 1 } });
    const c = await rt(srv);
    const { run } = await c.call<{ run: string }>('run', countdown(5, 20));
    c.ws.terminate();
    const end = await srv.server.tasks?.runs.waitForEnd(run);
    expect(end?.status).toBe('SUCCEEDED');
  });

  it('answers not_available when the task runner is off', async () => {
    srv = await startServer({ tasks: false });
    const c = await rt(srv);
    await expect(c.call('run', countdown(1, 1))).rejects.toMatchObject({ code: 'not_available' });
    await expect(c.call('cancel', { run: 'x' })).rejects.toMatchObject({ code: 'not_available' });
  });
});
