import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grants } from '../../src/hub/permissions.js';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import {
  API_KEY,
  type Bystander,
  type GuardedServer,
  guardedServer,
  type HttpAnswer,
  http,
  mintToken,
} from '../support/security.js';
import type { RunningServer } from '../support/server.js';

let guarded: GuardedServer;
let srv: RunningServer;
let bystander: Bystander;
const closers: (() => void)[] = [];
const tokens: Record<string, string> = {};

const COUNTDOWN = 'demo/development/countdown';
const endpoints = ['rt', 'task-runner'];

beforeAll(async () => {
  guarded = await guardedServer({ tasks: { poolSize: 2 } });
  ({ srv, bystander } = guarded);
  const grants: Record<string, Grants> = {
    alice: { endpoints, tasks: [COUNTDOWN] },
    bob: { endpoints, tasks: [COUNTDOWN] },
    // Sees every run, but only of word-count.
    counter: { endpoints, tasks: ['demo/development/word-count'], allRuns: true },
    ops: { endpoints, tasks: ['demo/*'], allRuns: true },
  };
  for (const [user, g] of Object.entries(grants)) tokens[user] = await mintToken({ sub: user, wirehub: g });
});

afterAll(async () => {
  for (const close of closers.splice(0)) close();
  await guarded.stop();
});

function api(method: string, path: string, as: string, body?: unknown): Promise<HttpAnswer> {
  const token = as === 'api-key' ? API_KEY : (tokens[as] ?? '');
  return http(`${srv.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function rtAs(user: string): Promise<RtClient> {
  const c = await RtClient.connect(`${srv.wsUrl}/rt?access_token=${tokens[user]}`);
  closers.push(() => c.ws.terminate());
  return c;
}

async function runnerAs(user: string): Promise<TestClient> {
  const c = await TestClient.connect(`${srv.wsUrl}/task-runner`, {
    headers: { authorization: `Bearer ${tokens[user]}` },
  });
  closers.push(() => c.ws.terminate());
  return c;
}

/** A countdown long enough to still be running when the test cancels it. */
const long = { n: 1000, delayMs: 50 };

async function startLong(as: string): Promise<string> {
  const r = await api('POST', `/api/runs/${COUNTDOWN}/v1`, as, long);
  expect(r.status, r.body).toBe(202);
  return (JSON.parse(r.body) as { run_id: string }).run_id;
}

describe('/rt with a token for other tasks', () => {
  it('refuses runs of tasks not granted, and runs and cancels of other users', async () => {
    const alice = await rtAs('alice');
    const run = (task: string) => ({
      project: 'demo',
      domain: 'development',
      task,
      version: 'v1',
      inputs: {},
    });
    expect(await alice.request('run', run('word-count'))).toMatchObject({
      op: 'error',
      code: 'forbidden',
      message: 'not allowed to task "demo/development/word-count"',
    });
    // Grants before the registry: an unknown task the grants do not cover is forbidden too.
    expect(await alice.request('run', { ...run('x'), project: 'secret' })).toMatchObject({
      code: 'forbidden',
    });
    const started = await alice.call<{ run: string; channel: string }>('run', {
      ...run('countdown'),
      inputs: long,
    });
    expect(await alice.nextPush((p) => p.op === 'run')).toMatchObject({ run: started.run, status: 'QUEUED' });
    // Her own run's channel is hers to read, without any channel grant.
    const page = await alice.call<{ publications: { data: { seq: number } }[] }>('history', {
      channel: started.channel,
    });
    expect(page.publications[0]?.data.seq).toBe(1);
    await alice.call('subscribe', { channel: started.channel });

    const bob = await rtAs('bob');
    for (const op of ['subscribe', 'history'])
      expect(await bob.request(op, { channel: started.channel }), op).toMatchObject({ code: 'forbidden' });
    expect(await bob.request('cancel', { run: started.run })).toMatchObject({
      code: 'forbidden',
      message: `not allowed to cancel run ${started.run}: another user started it`,
    });
    const counter = await rtAs('counter');
    expect(await counter.request('cancel', { run: started.run })).toMatchObject({
      code: 'forbidden',
      message: `not allowed to cancel runs of task ${COUNTDOWN}`,
    });
    await bystander.checkpoint();
    // With allRuns and the task grant, ops may.
    const ops = await rtAs('ops');
    await ops.call('cancel', { run: started.run });
    expect(await alice.nextPush((p) => p.op === 'run' && p.status === 'ABORTED')).toMatchObject({
      run: started.run,
    });
    expect((await srv.server.tasks?.runs.get(started.run))?.status).toBe('ABORTED');
  });
});

describe('/task-runner with a token for other tasks', () => {
  it('answers forbidden errors for run, watch and cancel, and keeps the socket open', async () => {
    const aliceRun = await startLong('alice');
    const bob = await runnerAs('bob');
    const requests: [unknown, string][] = [
      [
        { project: 'demo', domain: 'development', task: 'word-count', inputs: { text: 'x' } },
        'not allowed to task',
      ],
      [{ watch: aliceRun }, `not allowed to see run ${aliceRun}`],
      [{ cancel: aliceRun }, `not allowed to cancel run ${aliceRun}`],
    ];
    for (const [request, says] of requests) {
      await bob.send(JSON.stringify(request));
      const answer = await bob.nextJson<{ error: { code: string; message: string } }>();
      expect(answer.error.code, JSON.stringify(request)).toBe('forbidden');
      expect(answer.error.message).toContain(says);
    }
    await bob.send(
      JSON.stringify({
        project: 'demo',
        domain: 'development',
        task: 'countdown',
        inputs: { n: 1, delayMs: 0 },
      }),
    );
    expect(await bob.nextJson()).toMatchObject({ status: 'started' });
    expect((await srv.server.tasks?.runs.get(aliceRun))?.status).not.toBe('ABORTED');
    // Alice watches and cancels her own run.
    const alice = await runnerAs('alice');
    await alice.send(JSON.stringify({ watch: aliceRun }));
    expect(await alice.nextJson()).toMatchObject({ run_id: aliceRun, seq: 1 });
    await alice.send(JSON.stringify({ cancel: aliceRun }));
    expect((await srv.server.tasks?.runs.waitForEnd(aliceRun))?.status).toBe('ABORTED');
    await bystander.checkpoint();
  });
});

describe('the run API with a token for other tasks', () => {
  it('checks task grants on start, read, abort and the task list; lists only visible runs', async () => {
    const alices = await startLong('alice');
    const bobs = await startLong('bob');
    const counted = await api('POST', '/api/runs/demo/development/word-count/v1', 'ops', { text: 'a b' });
    expect(counted.status).toBe(202);
    const countedId = (JSON.parse(counted.body) as { run_id: string }).run_id;

    const denied = await api('POST', '/api/runs/demo/development/word-count/v1', 'alice', { text: 'a' });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).error.message).toBe('not allowed to task "demo/development/word-count"');

    const tasks = JSON.parse((await api('GET', '/api/tasks', 'alice')).body) as { tasks: { ref: string }[] };
    expect(tasks.tasks.map((t) => t.ref)).toEqual([`${COUNTDOWN}@v1`]);
    const all = JSON.parse((await api('GET', '/api/tasks', 'api-key')).body) as { tasks: unknown[] };
    expect(all.tasks.length).toBeGreaterThan(1);

    expect((await api('GET', `/api/runs/${alices}`, 'bob')).status).toBe(403);
    expect(JSON.parse((await api('GET', `/api/runs/${alices}`, 'alice')).body)).toMatchObject({
      run_id: alices,
      user: 'alice',
    });
    expect((await api('GET', `/api/runs/${alices}`, 'ops')).status).toBe(200);
    expect((await api('GET', `/api/runs/${alices}`, 'counter')).status).toBe(403);
    expect((await api('POST', `/api/runs/${alices}/abort`, 'bob')).status).toBe(403);
    // Its channel's history, as on /rt: readable by whoever may see the run.
    const channelHistory = `/api/channels/run:${alices}/history`;
    expect((await api('GET', channelHistory, 'alice')).status).toBe(200);
    expect((await api('GET', channelHistory, 'bob')).status).toBe(403);

    const listed = async (as: string) => {
      const r = await api('GET', '/api/runs?limit=500', as);
      expect(r.status).toBe(200);
      return (JSON.parse(r.body) as { runs: { run_id: string; user?: string; task: string }[] }).runs;
    };
    const aliceSees = await listed('alice');
    expect(aliceSees.map((r) => r.run_id)).toContain(alices);
    expect(aliceSees.every((r) => r.user === 'alice')).toBe(true);
    expect((await listed('bob')).map((r) => r.run_id)).toEqual(expect.not.arrayContaining([alices]));
    const counterSees = await listed('counter');
    expect(counterSees.map((r) => r.run_id)).toEqual([countedId]);
    const opsSees = (await listed('ops')).map((r) => r.run_id);
    expect(opsSees).toEqual(expect.arrayContaining([alices, bobs, countedId]));

    // The run page is a shell with no run data: with auth on, it is the same for any id.
    const page = await http(`${srv.url}/runs/r-does-not-exist`);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('r-does-not-exist');
    // Its script (external, for the CSP) takes the token from the fragment.
    expect(page.body).toContain('/assets/run.js');
    expect((await http(`${srv.url}/assets/run.js`)).body).toContain('access_token');

    expect((await api('POST', `/api/runs/${alices}/abort`, 'alice')).status).toBe(202);
    expect((await api('POST', `/api/runs/${bobs}/abort`, 'ops')).status).toBe(202);
    await bystander.checkpoint();
  });
});
