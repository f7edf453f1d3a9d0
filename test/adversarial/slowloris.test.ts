import { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Bystander } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

const HEADERS_TIMEOUT_MS = 600;
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ headersTimeoutMs: HEADERS_TIMEOUT_MS });
});

afterAll(async () => {
  await srv.close();
});

/** Dribbles an upgrade request one byte every `everyMs` until the server hangs up. */
function dribble(
  port: number,
  everyMs: number,
): Promise<{ sent: number; answer: string; elapsedMs: number }> {
  const request =
    'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Padding: ' +
    'x'.repeat(10_000);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = new Socket();
    let sent = 0;
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      if (socket.destroyed || sent >= request.length) return;
      socket.write(request[sent] ?? '');
      sent += 1;
      timer = setTimeout(tick, everyMs);
    };
    socket.on('data', (c) => {
      answer += c.toString();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ sent, answer, elapsedMs: Date.now() - started });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET')
        resolve({ sent, answer, elapsedMs: Date.now() - started });
      else reject(err);
    });
    socket.connect(port, '127.0.0.1', tick);
  });
}

it('cuts upgrade headers dribbled slowly (slowloris) at the headers timeout; a bystander keeps talking', async () => {
  const bystander = await Bystander.start(srv.wsUrl);
  const before = bystander.exchanges;
  const attacks = await Promise.all(Array.from({ length: 20 }, () => dribble(srv.port, 20)));
  for (const a of attacks) {
    // Cut well before the request could ever complete, within the timeout plus one check.
    expect(a.sent).toBeLessThan(1_000);
    expect(a.elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(a.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS * 4);
    expect(a.answer).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
  }
  expect(bystander.exchanges).toBeGreaterThan(before);
  expect(await bystander.stop()).toBeGreaterThan(0);
  // No half-open upgrade lingers as a session.
  await vi.waitFor(() => expect(srv.server.connectionCount).toBe(0));
});
