import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flyteRunName } from '../../src/tasks/executors/flyte/flyte-executor.js';
import { ActionPhase } from '../../src/tasks/executors/flyte/idl.js';
import { runCli, startCliServer } from '../support/cli.js';
import { conformanceTasks, sayHello } from '../support/flyte-fixtures.js';
import { read, t } from '../support/flyte-literals.js';
import { FlyteStandin, starting } from '../support/flyte-standin.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('../../examples/task_runner_client.py', import.meta.url));

/** The guide's Python task-runner client: prints `Received: <json>` per reply until the run ends. */
function pythonClient(uri: string, request: unknown): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [CLIENT, uri, JSON.stringify(request)], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else
        resolve(
          stdout
            .split('\n')
            .filter((l) => l.startsWith('Received: '))
            .map((l) => JSON.parse(l.slice('Received: '.length)) as Record<string, unknown>),
        );
    });
  });
}

const guideRequest = {
  project: 'flytesnacks',
  domain: 'development',
  task: 'hello.say_hello',
  version: 'v1',
  inputs: { name: 'Ada' },
};

/** A task with typed inputs, echoing some back. */
const typed = {
  project: 'flytesnacks',
  domain: 'development',
  name: 'typed.report',
  version: 'v3',
  inputs: [
    ['count', t.int],
    ['ratio', t.float],
    ['tags', t.list(t.str)],
    ['level', t.enum('low', 'high')],
  ],
  outputs: [['summary', t.str]],
  async behave(ctx: Parameters<NonNullable<typeof sayHello.behave>>[0]) {
    starting(ctx);
    return { outputs: { summary: ctx.inputs.get('level') as never } };
  },
} as typeof sayHello;

let flyte: FlyteStandin;
let srv: RunningServer;

beforeAll(async () => {
  flyte = await FlyteStandin.start({ tasks: [sayHello, typed, ...conformanceTasks] });
  srv = await startServer({ tasks: { flyte: { endpoint: flyte.url, org: 'testorg' } } });
});
afterAll(async () => {
  await srv?.close();
  await flyte?.close();
});

describe('/task-runner with Flyte configured', () => {
  it("runs the guide's request on Flyte unchanged: the Python client gets run_id, the console url, the phases and the outputs", async () => {
    const replies = await pythonClient(`${srv.wsUrl}/task-runner`, guideRequest);
    const first = replies[0] as { run_id: string; url: string; status: string };
    expect(first.status).toBe('started');
    expect(first.url).toBe(flyte.consoleRunUrl('flytesnacks', 'development', flyteRunName(first.run_id)));
    const updates = replies.slice(1);
    expect(updates.map((u) => u.status)).toEqual([
      'QUEUED',
      'QUEUED',
      'INITIALIZING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    expect(updates.map((u) => u.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(updates[1]?.message).toMatch(/^WAITING_FOR_RESOURCES/);
    expect(updates[3]?.message).toMatch(/^RUNNING on Flyte/);
    expect(updates.at(-1)).toMatchObject({ status: 'SUCCEEDED', outputs: { o0: 'Hello, Ada!' } });
    // What reached Flyte: the task the request named, with its inputs as typed literals.
    const created = flyte.created.at(-1);
    expect(created?.task.case === 'taskId' && created.task.value).toMatchObject({
      org: 'testorg',
      project: 'flytesnacks',
      domain: 'development',
      name: 'hello.say_hello',
      version: 'v1',
    });
    const inputs = created?.inputWrapper.case === 'inputs' ? created.inputWrapper.value.literals : [];
    expect(inputs.map((l) => l.name)).toEqual(['name', 'times']);
    expect(read.str(inputs[0]?.value)).toBe('Ada');
    expect(read.int(inputs[1]?.value)).toBe(1); // the task's default
  });

  it('keeps serving its own tasks here: a demo task never reaches Flyte', async () => {
    const before = flyte.created.length;
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const answer = await client.request({
      project: 'demo',
      domain: 'development',
      task: 'countdown',
      inputs: { n: 1, delayMs: 0 },
    });
    expect(answer.url).toBe(`${srv.url}/runs/${answer.run_id}`);
    expect((await client.ended(answer.run_id as string)).status).toBe('SUCCEEDED');
    expect(flyte.created.length).toBe(before);
    // and a version of a local task that does not exist is unknown here, not looked up on Flyte
    const calls = flyte.calls.length;
    expect(
      (await client.request({ project: 'demo', domain: 'development', task: 'countdown', version: 'v9' }))
        .error?.code,
    ).toBe('unknown_task');
    expect(flyte.calls.length).toBe(calls);
    client.close();
  });

  it('answers unknown_task with the reference for a task Flyte does not have, creating nothing', async () => {
    const before = flyte.created.length;
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const answer = await client.request({ ...guideRequest, task: 'hello.nope', version: 'v7' });
    expect(answer.error).toMatchObject({
      code: 'unknown_task',
      details: { project: 'flytesnacks', domain: 'development', task: 'hello.nope', version: 'v7' },
    });
    expect(flyte.calls.at(-1)).toBe('GetTaskDetails');
    expect(flyte.created.length).toBe(before);
    client.close();
  });

  it('answers invalid_inputs naming each input and the type it expects, before any run is created', async () => {
    const before = flyte.created.length;
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const answer = await client.request({
      project: 'flytesnacks',
      domain: 'development',
      task: 'typed.report',
      version: 'v3',
      inputs: { count: 'three', ratio: 0.5, tags: ['a', 2], level: 'medium' },
    });
    expect(answer.error?.code).toBe('invalid_inputs');
    expect(answer.error?.message).toMatch(/input count: expected int, got "three"/);
    expect((answer.error?.details as { issues?: unknown[] } | undefined)?.issues).toEqual([
      { path: ['count'], code: 'custom', message: 'input count: expected int, got "three"' },
      { path: ['tags', '1'], code: 'custom', message: 'input tags.1: expected str, got 2' },
      {
        path: ['level'],
        code: 'custom',
        message: "input level: expected enum('low', 'high'), got \"medium\"",
      },
    ]);
    expect(flyte.created.length).toBe(before);
    const ok = await client.request({
      project: 'flytesnacks',
      domain: 'development',
      task: 'typed.report',
      version: 'latest',
      inputs: { count: 3, ratio: 1, tags: ['a'], level: 'high' },
    });
    expect(ok.status).toBe('started');
    expect((await client.ended(ok.run_id as string)).outputs).toEqual({ summary: 'high' });
    client.close();
  });

  it('cancels a Flyte run with AbortRun: the ABORTED update carries the reason', async () => {
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = await client.start('sleep', { ms: 60_000 }, 'test', 'fixtures', 'v1');
    await client.when(id, (u) => u.status === 'RUNNING');
    client.send({ cancel: id });
    const end = await client.ended(id);
    expect(end).toMatchObject({ status: 'ABORTED', error: { kind: 'USER', message: 'aborted on request' } });
    expect(flyte.run(flyteRunName(id))?.details.status?.phase).toBe(ActionPhase.ABORTED);
    client.close();
  });

  it('relays a failed Flyte run with its error kind and message, and watch replays it', async () => {
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = await client.start('crash', {}, 'test', 'fixtures', 'v1');
    expect(await client.ended(id)).toMatchObject({
      status: 'FAILED',
      error: { kind: 'SYSTEM', message: "the task's container was OOM-killed (exit code 137)" },
    });
    const watcher = await TaskRunnerClient.connect(srv.wsUrl);
    watcher.send({ watch: id });
    await watcher.ended(id);
    expect(watcher.updates(id).map((u) => u.status)).toEqual(client.updates(id).map((u) => u.status));
    client.close();
    watcher.close();
  });
});

describe('the run API with Flyte configured', () => {
  it('POST /api/runs starts a Flyte run (url: the console, Location: the run here); GET shows its Flyte run', async () => {
    const res = await fetch(`${srv.url}/api/runs/flytesnacks/development/hello.say_hello/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bo', times: 2 }),
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { run_id: string; url: string; status: string };
    const name = flyteRunName(body.run_id);
    expect(body.url).toBe(flyte.consoleRunUrl('flytesnacks', 'development', name));
    expect(res.headers.get('location')).toBe(`${srv.url}/runs/${body.run_id}`);
    const done = await srv.server.tasks?.runs.waitForEnd(body.run_id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', outputs: { o0: 'Hello, Bo!Hello, Bo!' } });
    const record = (await (await fetch(`${srv.url}/api/runs/${body.run_id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(record).toMatchObject({
      url: body.url,
      external: {
        executor: 'flyte',
        id: { org: 'testorg', project: 'flytesnacks', domain: 'development', name },
        url: body.url,
      },
    });
    const page = await fetch(`${srv.url}/runs/${body.run_id}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="console"');
  });

  it('answers 503 executor_unavailable when Flyte cannot be reached, and stores nothing', async () => {
    await flyte.down();
    try {
      // a task looked up before (cached): CreateRun fails; one never looked up: the lookup fails
      for (const path of ['hello.say_hello/v1', 'hello.other/v1']) {
        const res = await fetch(`${srv.url}/api/runs/flytesnacks/development/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Cy' }),
        });
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('executor_unavailable');
      }
      const { runs } = (await (await fetch(`${srv.url}/api/runs?limit=500`)).json()) as {
        runs: { inputs: unknown }[];
      };
      expect(runs.filter((r) => JSON.stringify(r.inputs).includes('Cy'))).toEqual([]);
    } finally {
      await flyte.up();
    }
  });
});

describe('wirehub serve --flyte-endpoint and wirehub run', () => {
  it('serves Flyte tasks from the CLI flags; wirehub run prints the console URL and the outputs', async () => {
    // A cluster behind an HTTP/1.1-only proxy: --flyte-http-version 1.1.
    const h1 = await FlyteStandin.start({ tasks: [sayHello], httpVersion: '1.1' });
    const cli = await startCliServer([
      '--flyte-endpoint',
      h1.url,
      '--flyte-org',
      'testorg',
      '--flyte-http-version',
      '1.1',
    ]);
    try {
      const run = await runCli([
        'run',
        'flytesnacks/development/hello.say_hello@v1',
        '--input',
        'name=Dee',
        '--url',
        cli.url,
      ]);
      expect(run.stderr).toMatch(
        new RegExp(`started: ${h1.url}/v2/domain/development/project/flytesnacks/runs/wh[0-9a-f]{24}`),
      );
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ o0: 'Hello, Dee!' });
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
      await h1.close();
    }
  });

  it('refuses bad Flyte flags with a clear usage error (exit 2)', async () => {
    const badKey = await runCli(['serve', '--port', '0', '--flyte-api-key', 'not-a-key']);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/Flyte API key is not valid/);
    const noEndpoint = await runCli(['serve', '--port', '0', '--flyte-org', 'x']);
    expect(noEndpoint.code).toBe(2);
    expect(noEndpoint.stderr).toMatch(/need --flyte-endpoint or --flyte-api-key/);
    const dir = tempDir();
    writeFileSync(join(dir, 'wirehub.json'), JSON.stringify({ 'flyte-endpoint': 'ftp://flyte.example' }));
    const fromFile = await runCli(['serve', '--port', '0', '--config', join(dir, 'wirehub.json')]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/Flyte endpoint ftp:\/\/flyte.example must be https:\/\/host/);
  });
});
