import { request } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { keepsDotSegments, rawRequest, rawUpgrade, statusOf } from '../support/raw-http.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;

beforeEach(async () => {
  srv = await startServer({ maxPayloadBytes: 1024 });
});

afterEach(async () => {
  await srv.close();
});

function httpGet(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

describe('close codes', () => {
  it('closes with 1009 when a message is over the max payload, and the server keeps serving', async () => {
    const c = await TestClient.connect(`${srv.wsUrl}/echo`);
    c.ws.send('x'.repeat(1025));
    expect((await c.closed).code).toBe(1009);
    const d = await TestClient.connect(`${srv.wsUrl}/echo`);
    await d.send('x'.repeat(1024));
    expect(await d.next()).toBe(`Echo: ${'x'.repeat(1024)}`);
    d.ws.terminate();
  });

  it('closes with 1007 on a text frame that is not valid UTF-8', async () => {
    const c = await TestClient.connect(`${srv.wsUrl}/echo`);
    // A text frame (opcode 1) carrying 0xff 0xfe, masked as client frames must be.
    const mask = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from([0xff ^ 1, 0xfe ^ 2]);
    const raw = (c.ws as unknown as { _socket: Socket })._socket;
    raw.write(Buffer.concat([Buffer.from([0x81, 0x80 | 2]), mask, payload]));
    expect((await c.closed).code).toBe(1007);
  });

  it('closes with 1003 and a reason on a binary frame to a text endpoint', async () => {
    for (const path of ['/ws', '/broadcast', '/chat/lobby']) {
      const c = await TestClient.connect(`${srv.wsUrl}${path}`);
      if (path === '/ws') await c.next();
      c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      const closed = await c.closed;
      expect(closed.code).toBe(1003);
      expect(closed.reason).toMatch(/binary/);
    }
  });
});

describe('upgrade refusals', () => {
  it('answers 404 on an unknown WebSocket path', async () => {
    const r = await TestClient.refused(`${srv.wsUrl}/nope`);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({
      error: { code: 'not_found', message: 'no WebSocket endpoint at /nope' },
    });
  });

  it('answers 400 on bad room names', async () => {
    const long = 'a'.repeat(65);
    for (const room of [long, 'bad%20room', 'semi;colon', 'a%2Fb', '%E0%A4%A', '%00']) {
      const r = await TestClient.refused(`${srv.wsUrl}/chat/${room}`);
      expect(r.status, room).toBe(400);
      expect(JSON.parse(r.body).error.code).toMatch(/^bad_(room|request)$/);
    }
    // Clients normalise dot segments away; a raw request keeps them.
    for (const room of ['..', '%2e%2e', '.', '...']) {
      const response = await rawUpgrade(srv.port, `/chat/${room}`);
      if (!keepsDotSegments && (room === '..' || room === '%2e%2e')) {
        expect(statusOf(response), room).toBe(404);
        continue;
      }
      expect(statusOf(response), room).toBe(400);
      expect(response).toContain('"code":"bad_room"');
    }
    const ok = await TestClient.connect(`${srv.wsUrl}/chat/${'a'.repeat(64)}`);
    ok.ws.terminate();
  });

  it('answers 400 on bad stream intervals', async () => {
    for (const interval of ['49', '60001', 'abc', '1e3', '-5', '', '100.5']) {
      const r = await TestClient.refused(`${srv.wsUrl}/stream?interval=${interval}`);
      expect(r.status, interval).toBe(400);
      expect(JSON.parse(r.body).error).toMatchObject({
        code: 'bad_interval',
        message: expect.stringMatching(/50/),
      });
    }
    for (const interval of ['50', '60000']) {
      const c = await TestClient.connect(`${srv.wsUrl}/stream?interval=${interval}`);
      c.ws.terminate();
    }
  });

  it('answers a plain GET on a WebSocket path with 426', async () => {
    for (const path of ['/ws', '/echo', '/chat/lobby', '/stream']) {
      const r = await httpGet(`${srv.url}${path}`);
      expect(r.status, path).toBe(426);
      expect(JSON.parse(r.body).error.code).toBe('upgrade_required');
    }
  });

  it('answers 400 to a malformed handshake', async () => {
    const response = await rawRequest(
      srv.port,
      'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(statusOf(response)).toBe(400);
    expect(statusOf(await rawUpgrade(srv.port, '/echo'))).toBe(101);
  });
});

describe('ops routes', () => {
  it('serves /healthz and /readyz, and JSON 404s', async () => {
    expect((await httpGet(`${srv.url}/healthz`)).status).toBe(200);
    expect(JSON.parse((await httpGet(`${srv.url}/readyz`)).body)).toEqual({ status: 'ready' });
    const missing = await httpGet(`${srv.url}/missing`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe('not_found');
  });
});
