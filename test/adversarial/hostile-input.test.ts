import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaults } from '../../src/protocol/index.js';
import { TestClient, writeRawFrame } from '../support/client.js';
import { rawUpgrade, statusOf } from '../support/raw-http.js';
import { RtClient } from '../support/rt-client.js';
import { Bystander, type HttpAnswer, http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

// Hostile input on every entry point: each gets a clear error (a close code, an error frame
// with the command's id, or a 4xx in the {"error":{code,message}} shape), nothing is
// polluted, and the server goes on serving a bystander throughout.

let srv: RunningServer;
let bystander: Bystander;
const protoKeysBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  srv = await startServer({ tasks: { poolSize: 1 } });
  bystander = await Bystander.start(srv.wsUrl);
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeysBefore);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((await http(`${srv.url}/healthz`)).status).toBe(200);
  await srv.close();
});

/** `--max-json-depth`'s default, as documented (docs/security.md). */
const DOCUMENTED_MAX_DEPTH = 64;

const deepText = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

const post = (path: string, body: string) =>
  http(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** A 4xx answer in the catalog shape, with `code`. */
function expectCatalogError(answer: HttpAnswer, status: number, code: string | RegExp): void {
  expect(answer.status, answer.body).toBe(status);
  const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
  expect(body.error.code).toMatch(code);
  expect(body.error.message.length).toBeGreaterThan(0);
}

/** An `/rt` command sent as raw text, answered by id. */
async function rtRaw(c: RtClient, id: number, text: string) {
  const answer = c.waitReply(id);
  c.sendRaw(text);
  return answer;
}

describe('frames that break the transport rules on the JSON endpoints', () => {
  const open = {
    '/rt': async () => (await RtClient.connect(`${srv.wsUrl}/rt`)).ws,
    '/task-runner': async () => (await TaskRunnerClient.connect(srv.wsUrl)).ws,
  };
  const closeCode = (ws: { once(e: 'close', f: (code: number) => void): unknown }) =>
    new Promise<number>((resolve) => ws.once('close', resolve));

  it.each(Object.entries(open))(
    '%s: a frame over the max payload closes with 1009',
    async (_path, connect) => {
      const ws = await connect();
      const closed = closeCode(ws);
      ws.send(`{"op":"ping","id":1,"pad":"${'x'.repeat(defaults.maxPayloadBytes)}"}`);
      expect(await closed).toBe(1009);
      await bystander.checkpoint();
    },
  );

  it.each(Object.entries(open))('%s: invalid UTF-8 closes with 1007', async (_path, connect) => {
    const ws = await connect();
    const closed = closeCode(ws);
    writeRawFrame(ws, 0x1, Buffer.from('{"op":"ping","id":1,"x":"\xc3\x28"}', 'latin1'));
    expect(await closed).toBe(1007);
    await bystander.checkpoint();
  });

  it.each(Object.entries(open))('%s: a binary frame closes with 1003', async (_path, connect) => {
    const ws = await connect();
    const closed = closeCode(ws);
    ws.send(Buffer.from('{"op":"ping","id":1}'), { binary: true });
    expect(await closed).toBe(1003);
    await bystander.checkpoint();
  });

  it('/broadcast: invalid UTF-8 closes with 1007', async () => {
    const c = await TestClient.connect(`${srv.wsUrl}/broadcast`);
    writeRawFrame(c.ws, 0x1, Buffer.from([0x68, 0xc3, 0x28]));
    expect((await c.closed).code).toBe(1007);
  });
});

describe('deep JSON on every endpoint', () => {
  // 30 000 levels: 60 KB, just under the 64 KiB max payload.
  const deep = deepText(30_000);

  it('plain endpoints carry it as text', async () => {
    const echo = await TestClient.connect(`${srv.wsUrl}/echo`);
    await echo.send(deep);
    expect(await echo.next()).toBe(`Echo: ${deep}`);
    const ws = await TestClient.connect(`${srv.wsUrl}/ws`);
    await ws.next(); // welcome
    await ws.send(deep);
    expect(await ws.nextJson()).toMatchObject({ type: 'echo', message: `Echo: ${deep}` });
    const b1 = await TestClient.connect(`${srv.wsUrl}/broadcast`);
    await b1.send(deep);
    expect(await b1.next()).toBe(deep);
    for (const c of [echo, ws, b1]) c.ws.terminate();
    await bystander.checkpoint();
  });

  it('/rt answers every command that carries it with json_too_deep and its id', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    const frames: [number, string][] = [
      [1, `{"op":"publish","id":1,"channel":"chat:deep","data":${deep}}`],
      [
        2,
        `{"op":"run","id":2,"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":{"n":${deep}}}`,
      ],
      [3, `{"op":"subscribe","id":3,"channel":"chat:deep","since":${deep}}`],
      [4, `{"op":"ping","id":4,"extra":${deep}}`],
    ];
    for (const [id, text] of frames) {
      expect(await rtRaw(c, id, text)).toMatchObject({ op: 'error', id, code: 'json_too_deep' });
    }
    await c.close();
  });

  it('/task-runner answers json_too_deep, for a run, a cancel and a watch', async () => {
    const c = await TaskRunnerClient.connect(srv.wsUrl);
    for (const text of [
      `{"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":${deep}}`,
      `{"cancel":${deep}}`,
      `{"watch":"r-1","x":${deep}}`,
    ]) {
      c.send(text);
      expect(await c.nextAnswer()).toMatchObject({ error: { code: 'json_too_deep' } });
    }
    c.close();
  });

  it('HTTP bodies get 400 json_too_deep on every JSON route', async () => {
    const body = `{"channel":"chat:deep","data":${deepText(200_000)}}`;
    expectCatalogError(await post('/api/publish', body), 400, 'json_too_deep');
    expectCatalogError(
      await post('/api/runs/demo/development/countdown/v1', `{"n":${deepText(100)}}`),
      400,
      'json_too_deep',
    );
    expectCatalogError(await post('/api/runs/r-1/abort', deepText(100)), 400, 'json_too_deep');
  });
});

describe('hostile names', () => {
  const badChannels = [
    `chat:${'x'.repeat(300)}`,
    'chat:日本',
    'chat:a\u0000b',
    'chat:a\nb',
    'chat:../../etc/passwd',
    '../etc/passwd',
    '$presence:chat:x',
    '',
    ':',
    'chat:',
    'chat:a b',
    'chat:<script>',
  ];
  // Well-formed names of namespaces that do not exist, spelled like Object.prototype's keys.
  const unknownNamespaces = ['__proto__', '__proto__:x', 'constructor:x', 'toString', 'hasOwnProperty:x'];

  it('/rt refuses bad channel names with bad_channel and unknown ones with unknown_namespace, per command', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    for (const op of ['subscribe', 'publish', 'history', 'presence']) {
      const fields = (channel: string) => ({ channel, ...(op === 'publish' ? { data: 1 } : {}) });
      for (const channel of badChannels) {
        expect(await c.request(op, fields(channel)), `${op} ${JSON.stringify(channel)}`).toMatchObject({
          op: 'error',
          code: 'bad_channel',
        });
      }
      for (const channel of unknownNamespaces) {
        expect(await c.request(op, fields(channel)), `${op} ${channel}`).toMatchObject({
          op: 'error',
          code: 'unknown_namespace',
        });
      }
    }
    await c.close();
    await bystander.checkpoint();
  });

  it('the channel API refuses them too (400), path tricks included', async () => {
    for (const channel of badChannels.filter((ch) => ch.length > 0 && ch.length < 90)) {
      const answer = await post('/api/publish', JSON.stringify({ channel, data: 1 }));
      expectCatalogError(answer, 400, 'bad_channel');
      const history = await http(`${srv.url}/api/channels/${encodeURIComponent(channel)}/history`);
      expectCatalogError(history, 400, 'bad_channel');
    }
    for (const channel of unknownNamespaces) {
      expectCatalogError(
        await post('/api/publish', JSON.stringify({ channel, data: 1 })),
        400,
        'unknown_namespace',
      );
    }
    for (const path of ['..%2f..%2fetc%2fpasswd', 'chat%3a%00', 'chat:%E6%97%A5', '%2e%2e%2f']) {
      expectCatalogError(await http(`${srv.url}/api/channels/${path}/history`), 400, 'bad_channel');
    }
    // A whole `..` segment is resolved by the router first: another path, which does not exist.
    expectCatalogError(await http(`${srv.url}/api/channels/%2e%2e/history`), 404, 'not_found');
    // Longer than a channel name may be (200 characters): the route says what is wrong.
    const long = await http(`${srv.url}/api/channels/chat:${'x'.repeat(230)}/history`);
    expectCatalogError(long, 400, 'bad_channel');
    // Longer than any path segment may be: refused before routing, in the same shape.
    const longer = await http(`${srv.url}/api/channels/chat:${'x'.repeat(300)}/history`);
    expectCatalogError(longer, 414, 'uri_too_long');
  });

  it('chat rooms refuse unicode, control characters and over-long names; __proto__ is just a room', async () => {
    for (const room of ['%E6%97%A5', 'a%0ab', 'a%00', `${'r'.repeat(65)}`, 'a%20b', '...', '%2e']) {
      const answer = await rawUpgrade(srv.port, `/chat/${room}`);
      expect(statusOf(answer), room).toBe(400);
      expect(answer).toMatch(/"code":"bad_(room|request)"/);
    }
    const a = await TestClient.connect(`${srv.wsUrl}/chat/__proto__`);
    const b = await TestClient.connect(`${srv.wsUrl}/chat/__proto__`);
    await a.send('hello');
    expect(await b.next()).toBe('hello');
    a.ws.terminate();
    b.ws.terminate();
  });

  it('task names: unknown_task on /rt, /task-runner and POST /api/runs, never a crash or an echo of 10 KB', async () => {
    const refs = [
      { project: '../..', domain: 'etc', task: 'passwd', version: 'v1' },
      { project: 'x'.repeat(10_000), domain: 'd', task: 't', version: 'v1' },
      { project: '日本', domain: '\u0000', task: '<script>alert(1)</script>', version: '\n' },
      { project: '__proto__', domain: 'constructor', task: 'toString', version: '__proto__' },
      { project: 'demo', domain: 'development', task: 'countdown', version: 'constructor' },
    ];
    const rt = await RtClient.connect(`${srv.wsUrl}/rt`);
    const runner = await TaskRunnerClient.connect(srv.wsUrl);
    for (const ref of refs) {
      const answer = await rt.request('run', ref);
      expect(answer).toMatchObject({ op: 'error', code: 'unknown_task' });
      expect(answer.op === 'error' && answer.message.length).toBeLessThan(1000);
      expect(await runner.request(ref)).toMatchObject({ error: { code: 'unknown_task' } });
    }
    for (const ref of refs.filter((r) => r.project.length < 90)) {
      const path = [ref.project, ref.domain, ref.task, ref.version].map(encodeURIComponent).join('/');
      expectCatalogError(await post(`/api/runs/${path}`, '{}'), 404, 'unknown_task');
    }
    await rt.close();
    runner.close();
  });
});

describe('numbers at the edges', () => {
  it('/rt command ids: only a non-negative safe integer is an id; others get an id-less error', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    for (const id of ['-1', '1.5', '9007199254740992', '1e400', '"7"', 'null', '[]', '{}']) {
      c.sendRaw(`{"op":"ping","id":${id}}`);
      expect(await c.nextOrphan(), id).toMatchObject({ op: 'error', code: 'invalid_message' });
    }
    expect(await rtRaw(c, 0, '{"op":"ping","id":0}')).toMatchObject({ op: 'reply', id: 0 });
    expect(await rtRaw(c, 9007199254740991, '{"op":"ping","id":9007199254740991}')).toMatchObject({
      op: 'reply',
    });
    await c.close();
  });

  it('/rt history limits and since offsets out of range are invalid_message', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    const cases = [
      '"limit":0',
      '"limit":1001',
      '"limit":-1',
      '"limit":1.5',
      '"limit":"10"',
      '"limit":1e400',
      '"since":{"epoch":"e","offset":-1}',
      '"since":{"epoch":"e","offset":1e400}',
      '"since":{"epoch":"e","offset":9007199254740993}',
      '"since":{"epoch":"e","offset":"5"}',
      '"since":{"epoch":"","offset":1}',
      `"since":{"epoch":"${'e'.repeat(65)}","offset":1}`,
      '"since":{"epoch":"e","offset":1,"extra":1}',
    ];
    let id = 100;
    for (const fields of cases) {
      id += 1;
      const text = `{"op":"history","id":${id},"channel":"chat:edges",${fields}}`;
      expect(await rtRaw(c, id, text), fields).toMatchObject({ op: 'error', id, code: 'invalid_message' });
      const subscribe = `{"op":"subscribe","id":${id + 1000},"channel":"chat:edges",${fields}}`;
      if (fields.startsWith('"since"')) {
        expect(await rtRaw(c, id + 1000, subscribe), fields).toMatchObject({
          op: 'error',
          code: 'invalid_message',
        });
      }
    }
    // A since far past the end is a position the stream never had: answered, not a gap.
    expect(
      await c.call('history', { channel: 'chat:edges', since: { epoch: 'e-nope', offset: 2 ** 53 - 1 } }),
    ).toMatchObject({
      complete: false,
    });
    await c.close();
  });

  it('HTTP query numbers out of range are 400 bad_request', async () => {
    for (const query of [
      'since=-1&epoch=e',
      'since=NaN&epoch=e',
      'since=1e309&epoch=e',
      'since=9007199254740993&epoch=e',
      'limit=0',
      'limit=1001',
      'limit=abc',
      'limit=1&limit=2',
      'since=1&epoch=',
      '__proto__=1',
    ]) {
      expectCatalogError(
        await http(`${srv.url}/api/channels/chat:edges/history?${query}`),
        400,
        'bad_request',
      );
    }
    for (const query of ['limit=-1', 'limit=1e9', 'limit=NaN', 'status=__proto__']) {
      expectCatalogError(await http(`${srv.url}/api/runs?${query}`), 400, 'bad_request');
    }
  });

  it('/stream intervals out of bounds are refused at the upgrade with bad_interval', async () => {
    for (const interval of ['0', '-1', '49', '60001', 'NaN', '1e3', '0x10', '%20100', '9'.repeat(20), '']) {
      const answer = await rawUpgrade(srv.port, `/stream?interval=${interval}`);
      expect(statusOf(answer), interval).toBe(400);
      expect(answer).toContain('"code":"bad_interval"');
    }
  });
});

describe('prototype-pollution keys in data and inputs', () => {
  const polluting = [
    '{"__proto__":{"polluted":"yes"}}',
    '{"a":[{"__proto__":{"polluted":"yes"}}]}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"\\u005f\\u005fproto__":{"polluted":"yes"}}',
  ];

  it('/rt publish and run refuse them with invalid_message and the command id', async () => {
    const c = await RtClient.connect(`${srv.wsUrl}/rt`);
    let id = 0;
    for (const value of polluting) {
      id += 1;
      expect(
        await rtRaw(c, id, `{"op":"publish","id":${id},"channel":"chat:proto","data":${value}}`),
      ).toMatchObject({
        op: 'error',
        id,
        code: 'invalid_message',
      });
      id += 1;
      const run = `{"op":"run","id":${id},"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":${value}}`;
      expect(await rtRaw(c, id, run)).toMatchObject({ op: 'error', id, code: 'invalid_message' });
    }
    // Lookalikes are data like any other.
    expect(
      await c.request('publish', { channel: 'chat:proto', data: { constructor: 'x', proto: 1 } }),
    ).toMatchObject({
      op: 'reply',
    });
    await c.close();
  });

  it('/task-runner and the HTTP API refuse them too', async () => {
    const runner = await TaskRunnerClient.connect(srv.wsUrl);
    for (const value of polluting) {
      runner.send(
        `{"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":${value}}`,
      );
      expect(await runner.nextAnswer()).toMatchObject({ error: { code: 'invalid_message' } });
      expectCatalogError(
        await post('/api/publish', `{"channel":"chat:proto","data":${value}}`),
        400,
        'invalid_message',
      );
      expectCatalogError(
        await post('/api/runs/demo/development/countdown/v1', value),
        400,
        'invalid_message',
      );
    }
    runner.close();
  });
});

describe('generated input (fast-check)', () => {
  /** Levels of objects and arrays in a JSON value (0 for a scalar). */
  const depthOf = (value: unknown): number =>
    value === null || typeof value !== 'object'
      ? 0
      : 1 + Math.max(0, ...(Array.isArray(value) ? value : Object.values(value)).map(depthOf));

  /** A `__proto__` key, or a `constructor` key holding a `prototype`, anywhere in the value. */
  const hasPrototypeKey = (value: unknown): boolean => {
    if (value === null || typeof value !== 'object') return false;
    const record = value as Record<string, unknown>;
    if (!Array.isArray(value)) {
      if (Object.hasOwn(record, '__proto__')) return true;
      const ctor = Object.hasOwn(record, 'constructor') ? record.constructor : null;
      if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) return true;
    }
    return (Array.isArray(value) ? value : Object.values(record)).some(hasPrototypeKey);
  };

  it('any JSON value as /rt publish data: one answer each, and what is accepted arrives intact', async () => {
    const publisher = await RtClient.connect(`${srv.wsUrl}/rt`);
    const subscriber = await RtClient.connect(`${srv.wsUrl}/rt`);
    await subscriber.call('subscribe', { channel: 'chat:fuzz' });
    // Shallow values of every kind, and values around the depth bound (arrays and objects).
    const aroundTheBound = fc
      .tuple(fc.integer({ min: 55, max: 75 }), fc.jsonValue({ maxDepth: 2 }), fc.boolean())
      .map(([levels, leaf, objects]) => {
        let value: unknown = leaf;
        for (let i = 0; i < levels; i += 1) value = objects ? { k: value } : [value];
        return value;
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 6 }), aroundTheBound), async (data) => {
        const text = JSON.stringify(data);
        const answer = await publisher.request('publish', { channel: 'chat:fuzz', data });
        // The frame's envelope is one level: the data may have 63.
        const tooDeep = depthOf(data) + 1 > DOCUMENTED_MAX_DEPTH;
        if (tooDeep || hasPrototypeKey(data)) {
          expect(answer, text.slice(0, 200)).toMatchObject({
            op: 'error',
            code: tooDeep ? expect.stringMatching(/^(json_too_deep|invalid_message)$/) : 'invalid_message',
          });
          return;
        }
        expect(answer, text.slice(0, 200)).toMatchObject({ op: 'reply' });
        const push = await subscriber.nextPush((p) => p.op === 'message');
        expect(push.op === 'message' && JSON.stringify(push.data)).toBe(text);
      }),
      { numRuns: 200 },
    );
    await publisher.close();
    await subscriber.close();
    await bystander.checkpoint();
  });

  it('any text as an /rt frame: exactly one answer per frame, by id when it carried a usable one', async () => {
    const frame = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.json({ maxDepth: 6 }),
      fc
        .record({ op: fc.constantFrom('ping', 'publish', 'nope', 'run'), id: fc.jsonValue() })
        .map((r) => JSON.stringify(r)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 8 }), async (texts) => {
        const c = await RtClient.connect(`${srv.wsUrl}/rt`);
        const expectedIds: number[] = [];
        let idless = 0;
        for (const text of texts) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {}
          const id = (parsed as { id?: unknown } | null)?.id;
          const usable =
            typeof parsed === 'object' &&
            parsed !== null &&
            !Array.isArray(parsed) &&
            Number.isSafeInteger(id) &&
            (id as number) >= 0;
          if (usable) expectedIds.push(id as number);
          else idless += 1;
          c.sendRaw(text);
        }
        // Commands run in order: once this is answered, every frame before it has been.
        const last = 2 ** 53 - 1;
        await rtRaw(c, last, `{"op":"ping","id":${last}}`);
        const answers = c.frames.filter((f) => f.op === 'reply' || f.op === 'error');
        const withId = answers.filter((f) => f.id !== undefined && f.id !== last).map((f) => f.id);
        expect(withId.sort()).toEqual([...expectedIds].sort());
        expect(answers.filter((f) => f.id === undefined)).toHaveLength(idless);
        await c.close();
      }),
      { numRuns: 60 },
    );
    await bystander.checkpoint();
  });

  it('any text as a POST /api/publish body: 200 or a 4xx in the catalog shape', async () => {
    const body = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.json({ maxDepth: 6 }),
      fc.jsonValue({ maxDepth: 70 }).map((data) => JSON.stringify({ channel: 'chat:fuzz-http', data })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const answer = await post('/api/publish', text);
        if (answer.status === 200) return;
        expect(answer.status, answer.body).toBeGreaterThanOrEqual(400);
        expect(answer.status, answer.body).toBeLessThan(500);
        const error = (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
        expect(typeof error.code).toBe('string');
        expect(typeof error.message).toBe('string');
      }),
      { numRuns: 200 },
    );
    expect((await http(`${srv.url}/healthz`)).status).toBe(200);
  });
});
