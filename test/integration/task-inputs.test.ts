import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { RtClient } from '../support/rt-client.js';
import { http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/tasks-inputs', import.meta.url));
const COUNTDOWN = { project: 'demo', domain: 'development', task: 'countdown', version: 'v1' };
const PASSTHROUGH = { project: 'test', domain: 'inputs', task: 'passthrough', version: 'v1' };

// A typo in an input key (`count` for countdown's `n`) used to be dropped silently, and the
// run went ahead with the default. Now it is invalid_inputs naming the key, on every path;
// a task that wants extra keys says so with a loose object, and gets them on every path.
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ tasks: { modules: [FIXTURES], poolSize: 1 } });
});

afterAll(async () => {
  await srv.close();
});

const unknownCount = {
  code: 'invalid_inputs',
  message: expect.stringContaining('"count"'),
  details: { issues: [{ code: 'unrecognized_keys', keys: ['count'], path: [] }] },
};

const postRun = (ref: typeof COUNTDOWN, inputs: unknown) =>
  http(`${srv.url}/api/runs/${ref.project}/${ref.domain}/${ref.task}/${ref.version}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(inputs),
  });

describe('an unknown input key', () => {
  it('is invalid_inputs naming it on /task-runner', async () => {
    const c = await TaskRunnerClient.connect(srv.wsUrl);
    expect(await c.request({ ...COUNTDOWN, inputs: { count: 2 } })).toMatchObject({ error: unknownCount });
    // So is a typo in the request itself: `input` for `inputs`.
    expect(await c.request({ ...COUNTDOWN, input: { n: 2 } })).toMatchObject({
      error: { code: 'invalid_message', message: expect.stringContaining('"input"') },
    });
    c.close();
  });

  it('is invalid_inputs naming it on /rt run', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    expect(await c.request('run', { ...COUNTDOWN, inputs: { count: 2 } })).toMatchObject({
      op: 'error',
      ...unknownCount,
    });
    await c.close();
  });

  it('is a 400 invalid_inputs naming it on POST /api/runs', async () => {
    const answer = await postRun(COUNTDOWN, { count: 2 });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: unknownCount });
  });

  it('makes `wirehub run` exit 1 and say which key', async () => {
    const { code, stdout, stderr } = await runCli([
      'run',
      'demo/development/countdown@v1',
      '--input',
      'count=2',
      '--url',
      srv.url,
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('invalid_inputs');
    expect(stderr).toMatch(/\(inputs\): Unrecognized key: "count"/);
  });

  it('is refused by the run service itself, for code that starts runs', async () => {
    const runs = srv.server.tasks?.runs;
    const ref = { project: 'demo', domain: 'development', name: 'countdown', version: 'v1' };
    // prepare is asynchronous since a task may be looked up on a Flyte cluster.
    await expect(runs?.prepare(ref, { count: 2 })).rejects.toMatchObject({
      code: 'invalid_inputs',
      details: { issues: [{ code: 'unrecognized_keys', keys: ['count'] }] },
    });
    await expect(runs?.run(ref, { n: 1, delayMs: 0 })).resolves.toMatchObject({ task: 'countdown' });
  });
});

describe('a task that accepts extra keys (z.looseObject)', () => {
  it('gets them on /task-runner, /rt, POST /api/runs and wirehub run', async () => {
    const tr = await TaskRunnerClient.connect(srv.wsUrl);
    const viaRunner = await tr.start('passthrough', { n: 2, extra: 'a' }, 'test', 'inputs');
    expect((await tr.ended(viaRunner)).outputs).toEqual({ got: { n: 2, extra: 'a' } });

    const rt = await RtClient.connect(`${srv.wsUrl}/rt`);
    const started = await rt.call<{ run: string }>('run', { ...PASSTHROUGH, inputs: { extra: 'b' } });
    expect(await rt.nextPush((p) => p.op === 'run' && p.status === 'SUCCEEDED')).toMatchObject({
      run: started.run,
      outputs: { got: { n: 1, extra: 'b' } },
    });
    await rt.close();

    const posted = await postRun(PASSTHROUGH, { extra: 'c' });
    expect(posted.status).toBe(202);
    const id = (JSON.parse(posted.body) as { run_id: string }).run_id;
    tr.send({ watch: id });
    expect((await tr.ended(id)).outputs).toEqual({ got: { n: 1, extra: 'c' } });
    tr.close();

    const cli = await runCli(['run', 'test/inputs/passthrough@v1', '--input', 'extra=d', '--url', srv.url]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual({ got: { n: 1, extra: 'd' } });
  });
});
