import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, RunUpdate } from '../../src/tasks/runs/types.js';
import { type CliServer, runCli, startCliServer } from '../support/cli.js';
import { eventually } from '../support/cluster.js';
import { tempDir } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/tasks', import.meta.url));
const DUPLICATES = fileURLToPath(new URL('../fixtures/tasks-dup', import.meta.url));

type RunWithUpdates = RunRecord & { url: string; updates: RunUpdate[] };

async function getRun(base: string, id: string): Promise<RunWithUpdates> {
  return (await (await fetch(`${base}/api/runs/${id}`)).json()) as RunWithUpdates;
}

describe('wirehub tasks / wirehub run against a served process', () => {
  let serve: CliServer;

  beforeAll(async () => {
    serve = await startCliServer(['--data-dir', tempDir(), '--tasks', FIXTURES, '--task-workers', '2']);
  });

  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
  });

  it('lists the demo tasks and the --tasks modules', async () => {
    const { code, stdout } = await runCli(['tasks', '--url', serve.url]);
    expect(code).toBe(0);
    expect(stdout).toContain('demo/development/word-count@v1');
    expect(stdout).toContain('inputs: text:string top:integer=10');
    expect(stdout).toContain('test/fixtures/flaky@v1');
    const json = await runCli(['tasks', '--json'], { WIREHUB_URL: serve.url });
    expect(JSON.parse(json.stdout).map((t: { ref: string }) => t.ref)).toContain(
      'demo/development/primes@v1',
    );
  });

  it('runs word-count: shows the run URL and updates, prints the outputs, exits 0', async () => {
    const { code, stdout, stderr } = await runCli([
      'run',
      'demo/development/word-count@v1',
      '--input',
      'text=hello world',
      '--url',
      serve.url,
    ]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      total: 2,
      unique: 2,
      top: [
        { word: 'hello', count: 1 },
        { word: 'world', count: 1 },
      ],
    });
    const id = /run (r-[\w-]+) started: (\S+)/.exec(stderr);
    expect(id?.[2]).toBe(`${serve.url}/runs/${id?.[1]}`);
    expect(stderr).toMatch(/\[RUNNING 90%\] counted 2 words/);
    expect(stderr).toMatch(/\[SUCCEEDED 100%\]/);
  });

  it('reads --inputs JSON and typed --input values, and resolves the latest version', async () => {
    const { code, stdout } = await runCli([
      'run',
      'demo/development/countdown',
      '--inputs',
      '{"delayMs": 5}',
      '--input',
      'n=2',
      '--url',
      serve.url,
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ counted: 2, message: 'liftoff' });
  });

  it('exits 1 when the run fails, with the error', async () => {
    const { code, stderr } = await runCli(['run', 'demo/development/fail@v1', '--url', serve.url]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/FAILED: USER: this task fails on purpose/);
  });

  it('exits 1 on unknown tasks and bad inputs, 2 on usage errors', async () => {
    const unknown = await runCli(['run', 'demo/development/nope@v1', '--url', serve.url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown_task/);
    const invalid = await runCli([
      'run',
      'demo/development/countdown@v1',
      '--input',
      'n=0',
      '--url',
      serve.url,
    ]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/invalid_inputs[\s\S]*\n {2}n: /);
    const usage = await Promise.all([
      runCli(['run', 'not-a-ref']),
      runCli(['run', 'a/b/c', '--input', 'novalue']),
      runCli(['run', 'a/b/c', '--inputs', '[1]']),
      runCli(['serve', '--task-workers', '0']),
    ]);
    expect(usage.map((r) => r.code)).toEqual([2, 2, 2, 2]);
  });

  it('exits 1 with a clear message when the server cannot be reached', async () => {
    const { code, stderr } = await runCli(['run', 'demo/development/fail', '--url', 'http://127.0.0.1:1']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});

describe('wirehub serve --tasks', () => {
  it('refuses to start when two modules define the same task, naming both files', async () => {
    const start = startCliServer(['--data-dir', tempDir(), '--tasks', DUPLICATES]);
    const err = await start.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/exited with 1/);
    expect(err?.message).toContain('test/fixtures/twin@v1 is defined twice');
    expect(err?.message).toContain(`${DUPLICATES}/first.mjs`);
    expect(err?.message).toContain(`${DUPLICATES}/second.mjs`);
  });
});

describe('restart after kill -9 or SIGTERM', () => {
  const children: CliServer[] = [];
  const clients: TaskRunnerClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of children.splice(0)) {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  });

  it('after kill -9: fails the interrupted run, re-queues the one with retries left, and keeps finished runs intact', async () => {
    const dataDir = tempDir();
    const first = await startCliServer(['--data-dir', dataDir, '--tasks', FIXTURES, '--task-workers', '2']);
    children.push(first);
    const c1 = await TaskRunnerClient.connect(first.wsUrl);
    clients.push(c1);
    const done = await c1.start('word-count', { text: 'kept after a crash' });
    await c1.ended(done);
    const long = await c1.start('countdown', { n: 1000, delayMs: 1000 });
    const patient = await c1.start('patient', { ms: 600_000 }, 'test', 'fixtures');
    await c1.when(long, (u) => u.message === '1000…');
    await c1.when(patient, (u) => u.message === 'first attempt: sleeping');
    const before = await getRun(first.url, done);

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = await startCliServer(['--data-dir', dataDir, '--tasks', FIXTURES, '--task-workers', '2']);
    children.push(second);
    const interrupted = await getRun(second.url, long);
    expect(interrupted).toMatchObject({
      status: 'FAILED',
      error: { kind: 'SYSTEM', message: 'interrupted: server restarted' },
    });
    const statuses = interrupted.updates.map((u) => u.status);
    expect(statuses.slice(0, 4)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'RUNNING']);
    expect(statuses.at(-1)).toBe('FAILED');
    expect(interrupted.updates.map((u) => u.seq)).toEqual(interrupted.updates.map((_, i) => i + 1));

    // Everything but the URL (the new process listens on another port) is as it was.
    expect({ ...(await getRun(second.url, done)), url: before.url }).toEqual(before);

    const c2 = await TaskRunnerClient.connect(second.wsUrl);
    clients.push(c2);
    c2.send({ watch: patient });
    const end = await c2.ended(patient);
    expect(end).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 2 } });
    expect(c2.updates(patient).map((u) => u.message)).toContain(
      're-queued after a server restart (attempt 2 of 2)',
    );
    // Two server processes and their worker threads: on a loaded 2-core machine this takes longer
    // than the default 30 s budget.
  }, 90_000);

  it('after SIGTERM (a graceful drain): lets short runs finish in the drain window, re-queues the rest, and the next start runs them', async () => {
    const dataDir = tempDir();
    const args = ['--data-dir', dataDir, '--tasks', FIXTURES, '--task-workers', '2', '--drain-window', '3s'];
    const first = await startCliServer(args);
    children.push(first);
    const c1 = await TaskRunnerClient.connect(first.wsUrl);
    clients.push(c1);
    const short = await c1.start('sleep', { ms: 500 }, 'test', 'fixtures');
    const patient = await c1.start('patient', { ms: 600_000 }, 'test', 'fixtures');
    await c1.when(short, (u) => u.message === 'sleeping');
    await c1.when(patient, (u) => u.message === 'first attempt: sleeping');
    // Both threads are busy: this one waits for a thread when the drain begins.
    const waiting = await c1.start('echo', { value: 'after the restart' }, 'test', 'fixtures');

    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });

    const second = await startCliServer(args);
    children.push(second);
    // The short run ended inside the window, on the first process.
    const finished = await getRun(second.url, short);
    expect(finished.status).toBe('SUCCEEDED');
    expect(finished.updates.map((u) => u.message)).not.toContain(
      're-queued after a server restart (attempt 1 of 1)',
    );

    const c2 = await TaskRunnerClient.connect(second.wsUrl);
    clients.push(c2);
    c2.send({ watch: patient });
    c2.send({ watch: waiting });
    expect(await c2.ended(patient)).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 2 } });
    expect(c2.updates(patient).map((u) => u.message)).toEqual(
      expect.arrayContaining([
        'attempt 1 of 2 failed (SYSTEM: interrupted: the server shut down); re-queued for the next start',
        're-queued after a server restart (attempt 2 of 2)',
      ]),
    );
    // The waiting run never started on the first process, so it starts at attempt 1 here.
    expect(await c2.ended(waiting)).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 1 } });
    const waited = await getRun(second.url, waiting);
    expect(waited.updates.filter((u) => u.status === 'INITIALIZING')).toHaveLength(1);
    expect(waited.updates.map((u) => u.message)).toContain(
      're-queued after a server restart (attempt 1 of 1)',
    );
  }, 90_000);
});

describe('wirehub serve --run-retention', () => {
  it('deletes runs from runs.db that long after they ended (set by WIREHUB_RUN_RETENTION)', async () => {
    const serve = await startCliServer(['--data-dir', tempDir(), '--task-workers', '1'], {
      WIREHUB_RUN_RETENTION: '1s',
    });
    const c = await TaskRunnerClient.connect(serve.wsUrl);
    try {
      const id = await c.start('word-count', { text: 'gone soon' });
      await c.ended(id);
      // Pruned by the store itself (every retention, as it is under an hour): no one asks it to.
      const res = await eventually(
        'the run to be pruned',
        async () => {
          const r = await fetch(`${serve.url}/api/runs/${id}`);
          return r.status === 404 && r;
        },
        15_000,
        100,
      );
      expect(await res.json()).toMatchObject({ error: { code: 'unknown_run' } });
    } finally {
      c.close();
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  }, 60_000);
});
