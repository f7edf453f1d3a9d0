import { afterEach, beforeEach, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;
beforeEach(async () => {
  srv = await startServer({ defaultMetrics: true });
});
afterEach(async () => {
  await srv.close();
});

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no series ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

it('/metrics counts connections, messages, bytes, closes and refusals', async () => {
  const a = await TestClient.connect(`${srv.wsUrl}/echo`);
  const b = await TestClient.connect(`${srv.wsUrl}/broadcast`);
  const c = await TestClient.connect(`${srv.wsUrl}/broadcast`);
  for (const t of ['one', 'two', 'three']) {
    await a.send(t);
    await a.next();
  }
  await b.send('hello');
  await b.next();
  await c.next();
  await c.close(1000);
  await TestClient.refused(`${srv.wsUrl}/nowhere`).catch(() => {});

  const res = await fetch(`${srv.url}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  const text = await res.text();
  expect(value(text, 'wirehub_connections{endpoint="echo"}')).toBe(1);
  expect(value(text, 'wirehub_connections{endpoint="broadcast"}')).toBe(1);
  expect(value(text, 'wirehub_connections_accepted_total{endpoint="broadcast"}')).toBe(2);
  expect(value(text, 'wirehub_messages_received_total{endpoint="echo"}')).toBe(3);
  expect(value(text, 'wirehub_messages_sent_total{endpoint="echo"}')).toBe(3);
  expect(value(text, 'wirehub_received_bytes_total{endpoint="echo"}')).toBe(3 + 3 + 5);
  expect(value(text, 'wirehub_sent_bytes_total{endpoint="echo"}')).toBe(3 * 6 + 3 + 3 + 5);
  expect(value(text, 'wirehub_messages_received_total{endpoint="broadcast"}')).toBe(1);
  expect(value(text, 'wirehub_messages_sent_total{endpoint="broadcast"}')).toBe(2);
  expect(value(text, 'wirehub_closes_total{endpoint="broadcast",code="1000"}')).toBe(1);
  expect(value(text, 'wirehub_upgrade_rejections_total{status="404"}')).toBe(1);
  expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  a.ws.terminate();
  b.ws.terminate();
});
