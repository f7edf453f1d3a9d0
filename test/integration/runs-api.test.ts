import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, RunUpdate } from '../../src/tasks/runs/types.js';
import { type RunningServer, startServer } from '../support/server.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/tasks', import.meta.url));
const VERSIONS = fileURLToPath(new URL('../fixtures/tasks-versions', import.meta.url));

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({
    tasks: { modules: [FIXTURES, VERSIONS], poolSize: 2, retryDelayMs: 20, abortGraceMs: 100 },
  });
});

afterAll(async () => {
  await srv.close();
});

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer<T>> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${srv.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

const runs = () => {
  const r = srv.server.tasks?.runs;
  if (!r) throw new Error('tasks are off');
  return r;
};

describe('GET /api/tasks', () => {
  it('lists every task with its inputs as JSON Schema', async () => {
    const { status, body } = await call<{ tasks: Record<string, unknown>[] }>('GET', '/api/tasks');
    expect(status).toBe(200);
    const refs = body.tasks.map((t) => t.ref);
    for (const name of ['countdown', 'word-count', 'primes', 'fail']) {
      expect(refs).toContain(`demo/development/${name}@v1`);
    }
    expect(refs).toContain('test/fixtures/flaky@v1');
    const countdown = body.tasks.find((t) => t.ref === 'demo/development/countdown@v1');
    expect(countdown).toMatchObject({
      project: 'demo',
      domain: 'development',
      name: 'countdown',
      version: 'v1',
      retries: 0,
      inputs: {
        type: 'object',
        properties: { n: { type: 'integer', minimum: 1, maximum: 1000, default: 5 } },
      },
    });
    expect(body.tasks.find((t) => t.ref === 'test/fixtures/slow@v1')).toMatchObject({ timeout_ms: 300 });
  });
});

describe('POST /api/runs/{project}/{domain}/{name}/{version}', () => {
  it('starts a run (202, Location) whose record and updates GET /api/runs/{id} returns', async () => {
    const started = await call('POST', '/api/runs/demo/development/word-count/v1', { text: 'a b a' });
    expect(started.status).toBe(202);
    const id = started.body.run_id as string;
    expect(started.body).toEqual({ run_id: id, url: `${srv.url}/runs/${id}`, status: 'QUEUED' });
    expect(started.headers.get('location')).toBe(`${srv.url}/runs/${id}`);
    await runs().waitForEnd(id);
    const { status, body } = await call<RunRecord & { url: string; updates: RunUpdate[] }>(
      'GET',
      `/api/runs/${id}`,
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({
      run_id: id,
      project: 'demo',
      domain: 'development',
      task: 'word-count',
      version: 'v1',
      inputs: { text: 'a b a', top: 10 },
      status: 'SUCCEEDED',
      attempt: 1,
      max_attempts: 1,
      outputs: {
        total: 3,
        unique: 2,
        top: [
          { word: 'a', count: 2 },
          { word: 'b', count: 1 },
        ],
      },
      url: `${srv.url}/runs/${id}`,
    });
    expect(body.updates.map((u) => u.seq)).toEqual(body.updates.map((_, i) => i + 1));
    expect(body.updates.map((u) => u.status)).toEqual([
      'QUEUED',
      'INITIALIZING',
      'RUNNING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    expect(body.updates.at(-1)?.outputs).toEqual(body.outputs);
  });

  it('resolves version "latest" to the highest version (v10 over v9 and v2)', async () => {
    const started = await call('POST', '/api/runs/test/fixtures/versioned/latest', {});
    expect(started.status).toBe(202);
    const done = await runs().waitForEnd(started.body.run_id as string);
    expect(done).toMatchObject({ version: 'v10', outputs: { version: 'v10' } });
  });

  it('takes an empty body as no inputs (defaults apply)', async () => {
    const res = await fetch(`${srv.url}/api/runs/demo/development/countdown/v1`, { method: 'POST' });
    expect(res.status).toBe(202);
    const { run_id } = (await res.json()) as { run_id: string };
    expect((await runs().get(run_id))?.inputs).toEqual({ n: 5, delayMs: 1000 });
    await runs().cancel(run_id);
    expect((await runs().waitForEnd(run_id)).status).toBe('ABORTED');
  });

  it('answers 400 with the schema issues for bad inputs, 404 for unknown tasks', async () => {
    const bad = await call<{ error: { code: string; message: string; details: { issues: unknown[] } } }>(
      'POST',
      '/api/runs/demo/development/countdown/v1',
      { n: 'five' },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_inputs');
    expect(bad.body.error.details.issues).toEqual([
      { path: ['n'], code: 'invalid_type', message: expect.any(String) },
    ]);
    const notObject = await call<{ error: { code: string } }>(
      'POST',
      '/api/runs/demo/development/countdown/v1',
      [1],
    );
    expect(notObject.status).toBe(400);
    expect(notObject.body.error.code).toBe('invalid_inputs');
    const badJson = await call<{ error: { code: string } }>(
      'POST',
      '/api/runs/demo/development/countdown/v1',
      '{"n":',
    );
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('invalid_json');
    const unknown = await call<{ error: { code: string } }>('POST', '/api/runs/demo/development/nope/v1', {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown_task');
  });
});

describe('GET /api/runs and abort', () => {
  it('lists runs newest first, filtered by status, with a limit', async () => {
    const a = await runs().run({ project: 'demo', domain: 'development', name: 'fail', version: 'v1' }, {});
    const b = await runs().run({ project: 'demo', domain: 'development', name: 'fail', version: 'v1' }, {});
    await runs().waitForEnd(a.run_id);
    await runs().waitForEnd(b.run_id);
    const failed = await call<{ runs: RunRecord[] }>('GET', '/api/runs?status=FAILED&limit=2');
    expect(failed.status).toBe(200);
    expect(failed.body.runs.map((r) => r.run_id)).toEqual([b.run_id, a.run_id]);
    expect(failed.body.runs.every((r) => r.status === 'FAILED')).toBe(true);
    const all = await call<{ runs: RunRecord[] }>('GET', '/api/runs');
    expect(all.body.runs.length).toBeGreaterThanOrEqual(2);
    for (const query of ['status=DONE', 'limit=0', 'limit=9999', 'limit=abc']) {
      const res = await call<{ error: { code: string; message: string } }>('GET', `/api/runs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
    }
  });

  it('aborts a run (202), then says 409 once it has ended and 404 for unknown ids', async () => {
    const run = await runs().run(
      { project: 'test', domain: 'fixtures', name: 'sleep', version: 'v1' },
      { ms: 60_000 },
    );
    const abort = await call('POST', `/api/runs/${run.run_id}/abort`);
    expect(abort.status).toBe(202);
    expect(abort.body).toMatchObject({ run_id: run.run_id });
    const done = await runs().waitForEnd(run.run_id);
    expect(done.status).toBe('ABORTED');
    const again = await call<{ error: { code: string } }>('POST', `/api/runs/${run.run_id}/abort`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_finished');
    expect((await call('POST', '/api/runs/r-nope/abort')).status).toBe(404);
    const missing = await call<{ error: { code: string } }>('GET', '/api/runs/r-nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('unknown_run');
  });
});

describe('GET /runs/{id}', () => {
  it('serves the run page for a known run, 404 for an unknown one', async () => {
    const run = await runs().run({ project: 'demo', domain: 'development', name: 'fail', version: 'v1' }, {});
    const page = await fetch(`${srv.url}/runs/${run.run_id}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<script src="/assets/run.js" defer></script>');
    const missing = await fetch(`${srv.url}/runs/r-%3Cscript%3E`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('r-&#60;script&#62;');
  });

  it('builds run URLs from --public-url when set', async () => {
    const other = await startServer({ tasks: { publicUrl: 'https://hub.example.com/', poolSize: 1 } });
    try {
      const res = await fetch(`${other.url}/api/runs/demo/development/fail/v1`, { method: 'POST' });
      const body = (await res.json()) as { run_id: string; url: string };
      expect(body.url).toBe(`https://hub.example.com/runs/${body.run_id}`);
    } finally {
      await other.close();
    }
  });
});
