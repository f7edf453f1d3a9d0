import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { Bystander, http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

// JSON nested deeper than the server's bound is refused where it enters, on every JSON entry
// point, with json_too_deep; exactly the bound is accepted. This server is configured with a
// small bound (8) so the edges are cheap to test; the default (64) is tested on the CLI.
const MAX = 8;

let srv: RunningServer;
let bystander: Bystander;

beforeAll(async () => {
  srv = await startServer({ maxJsonDepth: MAX, tasks: { poolSize: 1 } });
  bystander = await Bystander.start(srv.wsUrl);
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  await srv.close();
});

/** `levels` levels of arrays, the outermost included. */
const nested = (levels: number): unknown => {
  let value: unknown = [];
  for (let i = 1; i < levels; i += 1) value = [value];
  return value;
};

/** A frame or body whose `data` puts the document `levels` deep in all (the envelope is 1). */
const withData = (fields: Record<string, unknown>, levels: number) => ({
  ...fields,
  data: nested(levels - 1),
});

const postJson = (path: string, body: unknown) =>
  http(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('/rt', () => {
  it('accepts exactly the bound and refuses one level more, answering the command id', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    const ok = await c.request('publish', withData({ channel: 'chat:edge' }, MAX));
    expect(ok).toMatchObject({ op: 'reply' });
    const refused = await c.request('publish', withData({ channel: 'chat:edge' }, MAX + 1));
    expect(refused).toMatchObject({ op: 'error', code: 'json_too_deep', details: { maxDepth: MAX } });
    expect(refused.op === 'error' && refused.message).toMatch(/deeper than 8 levels/);
    // Nothing of the refused one was kept.
    const history = await c.call<{ publications: unknown[] }>('history', { channel: 'chat:edge' });
    expect(history.publications).toHaveLength(1);
    await c.close();
    await bystander.checkpoint();
  });

  it('refuses 30 000 levels (just under the max payload) in a run command, and keeps serving the connection', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    const deep = `{"op":"run","id":9,"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":{"n":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`;
    c.sendRaw(deep);
    expect(await c.waitReply(9)).toMatchObject({ op: 'error', id: 9, code: 'json_too_deep' });
    expect(await c.request('ping')).toMatchObject({ op: 'reply' });
    await c.close();
  });
});

describe('/task-runner', () => {
  it('refuses inputs nested too deep with an error frame, and runs the next request', async () => {
    const c = await TaskRunnerClient.connect(srv.wsUrl);
    const request = { project: 'demo', domain: 'development', task: 'countdown', version: 'v1' };
    // The request object is level 1, `inputs` level 2.
    expect(await c.request({ ...request, inputs: { n: nested(MAX - 1) } })).toMatchObject({
      error: { code: 'json_too_deep', details: { maxDepth: MAX } },
    });
    const run = await c.start('countdown', { n: 1, delayMs: 0 });
    expect((await c.ended(run)).status).toBe('SUCCEEDED');
    c.close();
  });
});

describe('HTTP JSON bodies', () => {
  it('answers 400 json_too_deep in the catalog shape, on publish and on runs', async () => {
    const publish = await postJson('/api/publish', withData({ channel: 'chat:http' }, MAX + 1));
    expect(publish.status).toBe(400);
    expect(JSON.parse(publish.body)).toEqual({
      error: {
        code: 'json_too_deep',
        message: `the body nests objects and arrays deeper than ${MAX} levels`,
        details: { maxDepth: MAX },
      },
    });
    expect((await postJson('/api/publish', withData({ channel: 'chat:http' }, MAX))).status).toBe(200);
    const run = await postJson('/api/runs/demo/development/countdown/v1', { n: nested(MAX) });
    expect(run.status).toBe(400);
    expect(JSON.parse(run.body)).toMatchObject({ error: { code: 'json_too_deep' } });
  });

  it('answers bodies that are not JSON, empty, or too big with catalog errors', async () => {
    const broken = await postJson('/api/publish', '{"channel":');
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body)).toMatchObject({ error: { code: 'invalid_json' } });
    const empty = await postJson('/api/publish', '');
    expect(empty.status).toBe(400);
    expect(JSON.parse(empty.body)).toMatchObject({ error: { code: 'invalid_json' } });
    // The body limit is still Fastify's 1 MiB.
    const huge = await postJson('/api/publish', { channel: 'chat:http', data: 'x'.repeat(1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body)).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('refuses prototype keys in bodies with a message that names the key', async () => {
    const proto = await postJson(
      '/api/publish',
      '{"channel":"chat:http","data":{"__proto__":{"isAdmin":true}}}',
    );
    expect(proto.status).toBe(400);
    expect(JSON.parse(proto.body)).toMatchObject({
      error: {
        code: 'invalid_message',
        message: expect.stringContaining('__proto__'),
        details: { key: '__proto__' },
      },
    });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe('plain endpoints', () => {
  it('carry deep JSON as text: nothing parses it', async () => {
    const chat1 = await TestClient.connect(`${srv.wsUrl}/chat/deep`);
    const chat2 = await TestClient.connect(`${srv.wsUrl}/chat/deep`);
    const text = JSON.stringify(nested(1000));
    await chat1.send(text);
    expect(await chat2.next()).toBe(text);
    for (const c of [chat1, chat2]) c.ws.terminate();
  });
});
