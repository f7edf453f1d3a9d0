import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, writeRawFrame } from '../support/client.js';
import { keepsDotSegments, rawRequest, rawUpgrade, statusOf } from '../support/raw-http.js';
import { Bystander, http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;
let bystander: Bystander;

beforeAll(async () => {
  srv = await startServer({ maxPayloadBytes: 4096 });
  bystander = await Bystander.start(srv.wsUrl);
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  // Nothing any case sent reached Object.prototype.
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(probe.isAdmin).toBeUndefined();
  expect((await http(`${srv.url}/healthz`)).status).toBe(200);
  await srv.close();
});

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('frames that break the rules', () => {
  it('oversize frames close with 1009, on every endpoint', async () => {
    for (const path of ['/echo', '/ws', '/broadcast', '/chat/lobby']) {
      const c = await TestClient.connect(`${srv.wsUrl}${path}`);
      c.ws.send('x'.repeat(4097));
      expect((await c.closed).code, path).toBe(1009);
      await bystander.checkpoint();
    }
  });

  it('invalid UTF-8 in a text frame closes with 1007', async () => {
    for (const path of ['/echo', '/ws', '/chat/lobby']) {
      const c = await TestClient.connect(`${srv.wsUrl}${path}`);
      writeRawFrame(c.ws, 0x1, Buffer.from([0x68, 0x69, 0xc3, 0x28])); // "hi" then a broken 2-byte sequence
      expect((await c.closed).code, path).toBe(1007);
      await bystander.checkpoint();
    }
  });

  it('binary frames on text endpoints close with 1003 and say why', async () => {
    for (const path of ['/ws', '/broadcast', '/chat/lobby', '/stream']) {
      const c = await TestClient.connect(`${srv.wsUrl}${path}`);
      c.ws.send(Buffer.from([0, 1, 2, 0xff]), { binary: true });
      const closed = await c.closed;
      expect(closed.code, path).toBe(1003);
      expect(closed.reason).toMatch(/binary/);
      await bystander.checkpoint();
    }
  });

  it('__proto__ and constructor keys in JSON pass through as text and pollute nothing', async () => {
    const payloads = [
      '{"__proto__":{"polluted":"yes","isAdmin":true}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
      '{"a":{"__proto__":{"polluted":1}},"toString":"x","hasOwnProperty":"y"}',
    ];
    const ws = await TestClient.connect(`${srv.wsUrl}/ws`);
    expect(await ws.nextJson()).toMatchObject({ type: 'system' });
    const a = await TestClient.connect(`${srv.wsUrl}/chat/proto`);
    const b = await TestClient.connect(`${srv.wsUrl}/chat/proto`);
    const echo = await TestClient.connect(`${srv.wsUrl}/echo`);
    for (const p of payloads) {
      await ws.send(p);
      expect(await ws.nextJson()).toMatchObject({ type: 'echo', message: `Echo: ${p}` });
      expect(await ws.nextJson()).toMatchObject({ type: 'broadcast', message: `Broadcast: ${p}` });
      await a.send(p);
      expect(await b.next()).toBe(p);
      await echo.send(p);
      expect(await echo.next()).toBe(`Echo: ${p}`);
    }
    for (const c of [ws, a, b, echo]) c.ws.terminate();
    await bystander.checkpoint();
  });

  it('deeply nested JSON is carried as text without blowing the stack', async () => {
    const deep = nested(2000); // fits the 4 KiB max payload
    const ws = await TestClient.connect(`${srv.wsUrl}/ws`);
    await ws.next();
    await ws.send(deep);
    expect(await ws.nextJson()).toMatchObject({ type: 'echo', message: `Echo: ${deep}` });
    ws.ws.terminate();
    await bystander.checkpoint();
  });
});

describe('paths that try to escape', () => {
  it('refuses traversal in room names with 400 (raw requests keep the dots)', async () => {
    for (const room of [
      '..',
      '%2e%2e',
      '..%2f..%2fetc%2fpasswd',
      '%2e%2e%2f%2e%2e%2fpackage.json',
      '..%5c..%5cwindows',
      '%00',
      '%ff',
      'a%2f..',
    ]) {
      const answer = await rawUpgrade(srv.port, `/chat/${room}`);
      // Bun's native server resolves a path made of dot segments before wirehub sees it.
      if (!keepsDotSegments && /^(\.\.|%2e%2e)$/.test(room)) {
        expect(statusOf(answer), room).toBe(404);
        continue;
      }
      expect(statusOf(answer), room).toBe(400);
      expect(answer).toMatch(/"code":"bad_(room|request)"/);
    }
    // Extra segments are another path, not a room.
    expect(statusOf(await rawUpgrade(srv.port, '/chat/../../etc/passwd'))).toBe(404);
    await bystander.checkpoint();
  });

  it('never serves files outside what it means to serve', async () => {
    for (const path of [
      '/../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2f..%2fetc%2fpasswd',
      '/static/../../package.json',
      '/%2e%2e%5c%2e%2e%5cpackage.json',
      '/.wirehub/../package.json',
      '//etc/passwd',
    ]) {
      const answer = await rawRequest(
        srv.port,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect([400, 404], path).toContain(statusOf(answer));
      expect(answer).not.toContain('root:');
      expect(answer).not.toContain('"name": "wirehub"');
    }
    await bystander.checkpoint();
  });
});
