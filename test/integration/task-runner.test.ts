import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { type RunningServer, startServer } from '../support/server.js';
import { contiguous, type RunFrame, TaskRunnerClient } from '../support/task-runner-client.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/tasks', import.meta.url));
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let srv: RunningServer;
const clients: { close(): void }[] = [];

async function connect(): Promise<TaskRunnerClient> {
  const c = await TaskRunnerClient.connect(srv.wsUrl);
  clients.push(c);
  return c;
}

const statuses = (updates: RunFrame[]) => updates.map((u) => u.status);
const issuesOf = (f: RunFrame) =>
  (f.error?.details as { issues?: { path: string[] }[] } | undefined)?.issues ?? [];

// One server for the file (its worker threads take a moment to start); runs are
// independent of each other, so tests do not interfere.
beforeAll(async () => {
  srv = await startServer({
    tasks: { modules: [FIXTURES], poolSize: 2, retryDelayMs: 20, abortGraceMs: 100 },
  });
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await srv.close();
});

describe('/task-runner lifecycle', () => {
  it('answers started with the run id and URL, then streams every update to SUCCEEDED with outputs', async () => {
    const c = await connect();
    c.send({
      project: 'demo',
      domain: 'development',
      task: 'countdown',
      version: 'v1',
      inputs: { n: 3, delayMs: 10 },
    });
    const started = await c.nextAnswer();
    expect(Object.keys(started).sort()).toEqual(['run_id', 'status', 'url']);
    expect(started.status).toBe('started');
    const id = started.run_id as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]{8,}$/);
    expect(started.url).toBe(`${srv.url}/runs/${id}`);
    // The answer comes before any update of its run.
    expect(c.frames[0]).toBe(started);
    const end = await c.ended(id);
    expect(end).toMatchObject({ status: 'SUCCEEDED', outputs: { counted: 3, message: 'liftoff' } });
    const updates = c.updates(id);
    expect(contiguous(updates.map((u) => u.seq))).toBe(true);
    expect(statuses(updates)).toEqual([
      'QUEUED',
      'INITIALIZING',
      'RUNNING',
      'RUNNING',
      'RUNNING',
      'RUNNING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    expect(updates.filter((u) => u.progress !== undefined).map((u) => u.progress)).toEqual([
      0, 33.3, 66.7, 100, 100,
    ]);
    for (const u of updates) {
      expect(typeof u.message).toBe('string');
      expect(u.at).toMatch(ISO);
    }
    // Stored exactly as sent.
    const stored = (await (await fetch(`${srv.url}/api/runs/${id}`)).json()) as { updates: RunFrame[] };
    expect(stored.updates).toEqual(updates);
  });

  it('ends FAILED with a USER error when the task throws', async () => {
    const c = await connect();
    const id = await c.start('fail', { message: 'no luck' });
    expect(await c.ended(id)).toMatchObject({
      status: 'FAILED',
      error: { kind: 'USER', message: 'no luck' },
    });
  });

  it('ends TIMED_OUT when the task runs past its time limit', async () => {
    const c = await connect();
    const id = await c.start('slow', { ms: 60_000 }, 'test', 'fixtures');
    const end = await c.ended(id);
    expect(end.status).toBe('TIMED_OUT');
    expect(end.error?.message).toMatch(/timed out after 300 ms/);
  });

  it('ends ABORTED on {"cancel": run_id} while the run streams', async () => {
    const c = await connect();
    const id = await c.start('countdown', { n: 100, delayMs: 1000 });
    await c.when(id, (u) => u.message === '100…');
    c.send({ cancel: id });
    const end = await c.ended(id);
    expect(end.status).toBe('ABORTED');
    expect(end.error).toEqual({ kind: 'USER', message: 'aborted on request' });
    // Cancelling again: the run is over.
    expect(await c.request({ cancel: id })).toMatchObject({ error: { code: 'run_finished' } });
  });

  it('retries a failing attempt and then succeeds', async () => {
    const c = await connect();
    const id = await c.start('flaky', { succeedOn: 2 }, 'test', 'fixtures');
    const end = await c.ended(id);
    expect(end).toMatchObject({ status: 'SUCCEEDED', outputs: { attempt: 2 } });
    const s = statuses(c.updates(id));
    expect(s.filter((x) => x === 'QUEUED')).toHaveLength(2);
    expect(c.updates(id).find((u, i) => i > 0 && u.status === 'QUEUED')?.message).toMatch(
      /attempt 1 of 3 failed \(USER: flaky failure on attempt 1\); retrying/,
    );
  });
});

describe('/task-runner bad requests', () => {
  it('answers each with an error frame carrying a catalog code, and the socket stays open', async () => {
    const c = await connect();
    expect(await c.request('{"project": nope')).toMatchObject({ error: { code: 'invalid_json' } });
    expect(await c.request('[1,2]')).toMatchObject({ error: { code: 'invalid_message' } });
    const missing = await c.request({ project: 'demo', domain: 'development' });
    expect(missing.error?.code).toBe('invalid_message');
    expect(issuesOf(missing)[0]?.path).toEqual(['task']);
    const unknown = await c.request({
      project: 'demo',
      domain: 'development',
      task: 'nope',
      version: 'v1',
      inputs: {},
    });
    expect(unknown.error).toMatchObject({
      code: 'unknown_task',
      details: { project: 'demo', domain: 'development', task: 'nope', version: 'v1' },
    });
    const invalid = await c.request({
      project: 'demo',
      domain: 'development',
      task: 'countdown',
      version: 'v1',
      inputs: { n: 0, delayMs: 'slow' },
    });
    expect(invalid.error?.code).toBe('invalid_inputs');
    expect(invalid.error?.message).toMatch(/countdown@v1/);
    expect(issuesOf(invalid).map((i) => i.path)).toEqual([['n'], ['delayMs']]);
    expect(await c.request({ watch: 'r-nope' })).toMatchObject({
      error: { code: 'unknown_run', details: { run_id: 'r-nope' } },
    });
    expect(await c.request({ cancel: 'r-nope' })).toMatchObject({ error: { code: 'unknown_run' } });
    expect(await c.request({ cancel: 42 })).toMatchObject({ error: { code: 'invalid_message' } });
    // Still open, still working.
    const id = await c.start('word-count', { text: 'still here' });
    expect(await c.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { total: 2 } });
  });

  it('answers queue_full when the executor has no room', async () => {
    const small = await startServer({
      tasks: { modules: [FIXTURES], poolSize: 1, queueSize: 0, abortGraceMs: 100 },
    });
    clients.push({ close: () => void small.close() });
    const c = await TaskRunnerClient.connect(small.wsUrl);
    clients.push(c);
    const first = await c.start('sleep', { ms: 60_000 }, 'test', 'fixtures');
    const refused = await c.request({
      project: 'demo',
      domain: 'development',
      task: 'word-count',
      inputs: { text: 'x' },
    });
    expect(refused.error?.code).toBe('queue_full');
    c.send({ cancel: first });
    expect((await c.ended(first)).status).toBe('ABORTED');
    // The refused run left no trace.
    const list = (await (await fetch(`${small.url}/api/runs`)).json()) as { runs: { run_id: string }[] };
    expect(list.runs.map((r) => r.run_id)).toEqual([first]);
  });
});

describe('/task-runner with several runs', () => {
  it('streams concurrent runs on one socket and keeps reading (cancel one while others run)', async () => {
    const c = await connect();
    const long = await c.start('countdown', { n: 50, delayMs: 200 });
    const short = await c.start('countdown', { n: 3, delayMs: 10 });
    const words = await c.start('word-count', { text: 'the cat and the hat' });
    const primes = await c.start('primes', { n: 100_000 });
    expect(new Set([long, short, words, primes]).size).toBe(4);
    expect(await c.ended(short)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await c.ended(words)).toMatchObject({
      status: 'SUCCEEDED',
      outputs: {
        total: 5,
        unique: 4,
        top: [
          { word: 'the', count: 2 },
          { word: 'and', count: 1 },
          { word: 'cat', count: 1 },
          { word: 'hat', count: 1 },
        ],
      },
    });
    expect(await c.ended(primes)).toMatchObject({ status: 'SUCCEEDED', outputs: { count: 9592 } });
    c.send({ cancel: long });
    expect((await c.ended(long)).status).toBe('ABORTED');
    for (const id of [long, short, words, primes])
      expect(contiguous(c.updates(id).map((u) => u.seq))).toBe(true);
  });

  it('keeps a run going when its client disconnects; a later watch replays it all', async () => {
    const c1 = await connect();
    const id = await c1.start('countdown', { n: 3, delayMs: 100 });
    await c1.when(id, (u) => u.status === 'RUNNING');
    c1.close();
    await c1.closed;
    const runs = srv.server.tasks?.runs;
    expect((await runs?.waitForEnd(id))?.status).toBe('SUCCEEDED');
    const c2 = await connect();
    c2.send({ watch: id });
    const end = await c2.ended(id);
    expect(end.outputs).toEqual({ counted: 3, message: 'liftoff' });
    expect(contiguous(c2.updates(id).map((u) => u.seq))).toBe(true);
    expect(statuses(c2.updates(id))[0]).toBe('QUEUED');
  });

  it('a watch in the middle of a run replays what was missed, then streams the rest, without gaps or repeats', async () => {
    const c1 = await connect();
    const id = await c1.start('countdown', { n: 6, delayMs: 40 });
    await c1.when(id, (u) => u.message === '5…');
    const c2 = await connect();
    c2.send({ watch: id });
    await c2.ended(id);
    await c1.ended(id);
    expect(c2.updates(id)).toEqual(c1.updates(id));
  });

  it('cancel from another socket shows that socket the ABORTED update', async () => {
    const c1 = await connect();
    const id = await c1.start('countdown', { n: 100, delayMs: 1000 });
    await c1.when(id, (u) => u.status === 'RUNNING');
    const c2 = await connect();
    c2.send({ cancel: id });
    expect((await c2.ended(id)).status).toBe('ABORTED');
    expect((await c1.ended(id)).status).toBe('ABORTED');
    expect(statuses(c2.updates(id))).toEqual(['ABORTED']);
  });
});

describe('CPU-heavy tasks', () => {
  it('run primes on a worker thread while /echo keeps answering', async () => {
    const c = await connect();
    const echo = await TestClient.connect(`${srv.wsUrl}/echo`);
    clients.push({ close: () => echo.ws.terminate() });
    const id = await c.start('primes', { n: 10_000_000_000 });
    const init = await c.when(id, (u) => u.status === 'INITIALIZING');
    const thread = Number(/worker thread (\d+)/.exec(init.message ?? '')?.[1]);
    expect(thread).toBeGreaterThan(0);
    expect(thread).not.toBe(threadId);
    await c.when(
      id,
      (u) => (u.progress ?? -1) >= 0 && u.status === 'RUNNING' && /sieved/.test(u.message ?? ''),
    );
    for (let i = 0; i < 20; i += 1) {
      await echo.send(`ping ${i}`);
      expect(await echo.next()).toBe(`Echo: ping ${i}`);
    }
    // All those answers came while the sieve was still running.
    expect(
      c
        .updates(id)
        .some((u) => u.status !== 'RUNNING' && u.status !== 'QUEUED' && u.status !== 'INITIALIZING'),
    ).toBe(false);
    c.send({ cancel: id });
    expect((await c.ended(id)).status).toBe('ABORTED');
    const small = await c.start('primes', { n: 1000 });
    const end = await c.ended(small);
    expect(end.outputs).toMatchObject({ n: 1000, count: 168 });
    expect((end.outputs as { thread: number }).thread).not.toBe(threadId);
  });
});
