import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rawRequest, statusOf } from '../support/raw-http.js';
import { Bystander, http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * HTTP abuse at volume: floods of malformed requests, pipelined smuggling attempts, bodies
 * dribbled on many sockets at once. Each is answered (or cut) in the catalog shape, nothing
 * lingers, and a bystander on /echo and a plain HTTP client keep being served throughout.
 */

const REQUEST_TIMEOUT_MS = 1_500;
let srv: RunningServer;
let bystander: Bystander;

beforeAll(async () => {
  srv = await startServer({ requestTimeoutMs: REQUEST_TIMEOUT_MS, headersTimeoutMs: 1_000 });
  bystander = await Bystander.start(srv.wsUrl);
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  await srv.close();
});

const HEAD = 'Host: x\r\nConnection: close\r\n';
/** Requests no server should take, each with the status it must get. */
const MALFORMED: [string, number][] = [
  [`GET /${'a/'.repeat(4_000)} HTTP/1.1\r\n${HEAD}\r\n`, 404],
  [`GET /api/runs/%E0%A4%A HTTP/1.1\r\n${HEAD}\r\n`, 400],
  [`GET /api/runs/${'x'.repeat(1_000)} HTTP/1.1\r\n${HEAD}\r\n`, 414],
  [`GET /api/runs?${'limit=1&'.repeat(1_500)} HTTP/1.1\r\n${HEAD}\r\n`, 400],
  [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(17_000)}\r\n\r\n`, 431],
  ['BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  [`TRACE /healthz HTTP/1.1\r\n${HEAD}\r\n`, 405],
  [
    `POST /api/publish HTTP/1.1\r\n${HEAD}Content-Type: application/json\r\nContent-Length: 1${'0'.repeat(30)}\r\n\r\n`,
    400,
  ],
  [
    `POST /api/publish HTTP/1.1\r\n${HEAD}Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{}`,
    413,
  ],
  [
    `POST /api/publish HTTP/1.1\r\n${HEAD}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n`,
    400,
  ],
  ['GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
  ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 400],
];

describe('floods of malformed requests', () => {
  it('answers 240 at once, each with its catalog error, while a bystander and a healthy client are served', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => MALFORMED.map(([request]) => rawRequest(srv.port, request))).flat(),
    );
    answers.forEach((answer, i) => {
      const [request, status] = MALFORMED[i % MALFORMED.length] as [string, number];
      expect(statusOf(answer), request.slice(0, 60)).toBe(status);
      expect(answer, request.slice(0, 60)).toMatch(/\r\n\r\n\{"error":\{"code":"[a-z_]+","message":/);
    });
    expect((await http(`${srv.url}/healthz`)).status).toBe(200);
    await bystander.checkpoint();
  });
});

describe('pipelining', () => {
  it('refuses a smuggled request and closes: nothing after it is read', async () => {
    const smuggle =
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
      'POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' +
      'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
    const answer = await rawRequest(srv.port, smuggle);
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    // As Node itself does, the refusal may go out before the first answer is written (then
    // that answer is dropped with the socket): either way the last word is the 400.
    expect(statuses.at(-1)).toBe(400);
    expect(statuses.length).toBeLessThanOrEqual(2);
    expect(answer).toContain('"code":"bad_request"');
    // The request behind the smuggled one was never read.
    expect(answer).not.toContain('wirehub_');
  });
});

/** Sends headers announcing `length` bytes of body, then one byte every `everyMs` until cut. */
function dribbleBody(port: number, length: number, everyMs: number): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = new Socket();
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      if (socket.destroyed) return;
      socket.write('x');
      timer = setTimeout(tick, everyMs);
    };
    socket.on('data', (c) => {
      answer += c.toString();
    });
    const done = () => {
      clearTimeout(timer);
      resolve({ answer, ms: Date.now() - started });
    };
    socket.on('close', done);
    socket.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? done() : reject(err),
    );
    socket.connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`,
      );
      tick();
    });
  });
}

describe('slow bodies', () => {
  it('cuts 30 bodies dribbled at once at the request timeout with 408, and frees their sockets', async () => {
    const cut = await Promise.all(Array.from({ length: 30 }, () => dribbleBody(srv.port, 10_000, 50)));
    for (const { answer, ms } of cut) {
      expect(statusOf(answer)).toBe(408);
      expect(answer).toContain('"code":"request_timeout"');
      expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
    }
    await bystander.checkpoint();
    await vi.waitFor(async () => {
      const connections = await new Promise<number>((resolve) =>
        srv.server.http.server.getConnections((_err, n) => resolve(n)),
      );
      // The bystander's socket, and the one just asked.
      expect(connections).toBeLessThanOrEqual(2);
    });
    expect((await http(`${srv.url}/healthz`)).status).toBe(200);
  });
});
