import type { Socket } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { type RunningServer, startServer } from '../support/server.js';

const CAP = 64 * 1024;
const MESSAGE = 60 * 1024;
let srv: RunningServer;

beforeEach(async () => {
  srv = await startServer({ maxQueuedBytes: CAP });
});

afterEach(async () => {
  await srv.close();
});

it('closes a client that never reads with 4008, bounds its memory, and keeps others flowing', async () => {
  const url = `${srv.wsUrl}/broadcast`;
  const slow = await TestClient.connect(url);
  const bystander = await TestClient.connect(url);
  const publisher = await TestClient.connect(url);
  const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket;
  slowSocket.pause();

  const stats = srv.server.metrics.endpoint('broadcast');
  let sent = 0;
  let maxQueued = 0;
  // Publish until the server gives up on the slow client, then 50 more: each message must
  // reach the bystander, in order, while the slow client's queue stays capped.
  let extra = 50;
  while (extra > 0) {
    const text = `${String(sent).padStart(8, '0')}${'x'.repeat(MESSAGE - 8)}`;
    await publisher.send(text);
    const got = await bystander.nextText();
    expect(got.slice(0, 8)).toBe(String(sent).padStart(8, '0'));
    await publisher.next();
    sent += 1;
    maxQueued = Math.max(maxQueued, srv.server.queuedBytes());
    if (stats.slowDisconnects > 0) extra -= 1;
    expect(sent).toBeLessThan(5_000);
  }
  expect(stats.slowDisconnects).toBe(1);
  // Cap plus at most one frame in flight (its header included).
  expect(maxQueued).toBeLessThanOrEqual(CAP + MESSAGE + 16);

  slowSocket.resume();
  const closed = await slow.closed;
  expect(closed).toEqual({ code: 4008, reason: 'slow consumer' });
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  expect(metrics).toMatch(/wirehub_slow_consumer_disconnects_total\{endpoint="broadcast"\} 1/);
  bystander.ws.terminate();
  publisher.ws.terminate();
});
