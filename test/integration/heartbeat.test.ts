import { afterEach, beforeEach, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;

beforeEach(async () => {
  srv = await startServer({ pingIntervalMs: 400, pongTimeoutMs: 400 });
});

afterEach(async () => {
  await srv.close();
});

function pings(client: TestClient, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    client.ws.on('ping', () => {
      seen += 1;
      if (seen === n) resolve();
    });
  });
}

it('terminates a client that stops answering pings, and keeps one that answers', async () => {
  const silent = await TestClient.connect(`${srv.wsUrl}/echo`, { autoPong: false });
  const healthy = await TestClient.connect(`${srv.wsUrl}/echo`);
  const silentPinged = pings(silent, 1);
  const healthyPinged = pings(healthy, 3);
  await silentPinged;
  // No closing handshake: the server drops the TCP connection.
  expect((await silent.closed).code).toBe(1006);
  await healthyPinged;
  await healthy.send('still here');
  expect(await healthy.next()).toBe('Echo: still here');
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  expect(metrics).toMatch(/wirehub_closes_total\{endpoint="echo",code="1006"\} 1/);
  healthy.ws.terminate();
});
