import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LimitOptions } from '../../src/server/security/limits.js';
import { TestClient } from '../support/client.js';
import { rawUpgrade, statusOf } from '../support/raw-http.js';
import { Bystander, http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer | undefined;

afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

/**
 * Fills a limit with `hold` connections, checks that `attempts` more are refused with
 * `status`/`code` while a bystander keeps talking, then that closing one lets the next in.
 */
async function fillThenRefuse(
  limits: LimitOptions,
  hold: number,
  attempts: number,
  status: number,
  code: string,
) {
  srv = await startServer({ limits });
  const url = `${srv.wsUrl}/echo`;
  const bystander = await Bystander.start(srv.wsUrl);
  const held: TestClient[] = [];
  for (let i = 0; i < hold; i += 1) held.push(await TestClient.connect(url));
  const refusals = await Promise.all(Array.from({ length: attempts }, () => TestClient.refused(url)));
  for (const r of refusals) {
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body).error.code).toBe(code);
  }
  await bystander.checkpoint();
  await held[0]?.close();
  // The client sees the close before the server lets go of the slot: wait for that
  // (open then: the other held clients and the bystander).
  await vi.waitFor(() => expect(srv?.server.connectionCount).toBe(hold - 1 + 1));
  const again = await TestClient.connect(url);
  for (const c of [again, ...held]) c.ws.terminate();
  expect(await bystander.stop()).toBeGreaterThan(0);
}

describe('connection floods', () => {
  it('caps open connections per IP with 429, and frees the slot when one closes', async () => {
    // The bystander comes from another address, so it does not count here.
    await fillThenRefuse({ maxConnectionsPerIp: 5, ipConnectionRate: 0 }, 5, 20, 429, 'rate_limited');
  });

  it('limits the connection rate per IP with 429 and Retry-After', async () => {
    srv = await startServer({ limits: { ipConnectionRate: 1, ipConnectionBurst: 3 } });
    const bystander = await Bystander.start(srv.wsUrl);
    const answers = await Promise.all(Array.from({ length: 12 }, () => rawUpgrade(srv?.port ?? 0, '/echo')));
    const statuses = answers.map(statusOf).sort();
    expect(statuses.filter((s) => s === 101)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
    const refused = answers.find((a) => statusOf(a) === 429) ?? '';
    expect(refused).toMatch(/Retry-After: 1\r\n/);
    expect(refused).toContain('"code":"rate_limited"');
    await bystander.checkpoint();
    expect(await bystander.stop()).toBeGreaterThan(0);
  });

  it('refuses upgrades past the node limit with 503, and admits again when one leaves', async () => {
    // Node-wide: the bystander takes one of the three slots.
    await fillThenRefuse({ maxConnections: 3, ipConnectionRate: 0 }, 2, 4, 503, 'node_full');
  });

  it('counts clients by X-Forwarded-For only from a trusted proxy', async () => {
    srv = await startServer({
      trustProxy: ['127.0.0.1'],
      limits: { maxConnectionsPerIp: 1, ipConnectionRate: 0 },
    });
    const bystander = await Bystander.start(srv.wsUrl);
    const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
    const a = await TestClient.connect(`${srv.wsUrl}/echo`, from('203.0.113.1'));
    const b = await TestClient.connect(`${srv.wsUrl}/echo`, from('203.0.113.2'));
    expect((await TestClient.refused(`${srv.wsUrl}/echo`, from('203.0.113.1'))).status).toBe(429);
    // A client that is not a trusted proxy cannot pick its address with the header.
    const direct = await TestClient.connect(`${srv.wsUrl}/echo`, {
      localAddress: '127.0.0.3',
      ...from('198.51.100.9'),
    });
    const spoof = await TestClient.refused(`${srv.wsUrl}/echo`, {
      localAddress: '127.0.0.3',
      ...from('198.51.100.10'),
    });
    expect(spoof.status).toBe(429);
    for (const c of [a, b, direct]) c.ws.terminate();
    expect(await bystander.stop()).toBeGreaterThan(0);
  });
});

describe('message floods', () => {
  it('answers messages over the rate with rate_limited errors, then closes with 4029', async () => {
    srv = await startServer({ limits: { messageRate: 10, messageBurst: 20, messageStrikes: 5 } });
    const bystander = await Bystander.start(srv.wsUrl);
    const flooder = await TestClient.connect(`${srv.wsUrl}/echo`);
    for (let i = 0; i < 200; i += 1) flooder.ws.send(`flood ${i}`);
    const closed = await flooder.closed;
    expect(closed).toEqual({ code: 4029, reason: 'rate limited: too many messages' });
    const got = flooder.messages.map(String);
    const echoes = got.filter((m) => m.startsWith('Echo: '));
    const errors = got.filter((m) => m.startsWith('{')).map((m) => JSON.parse(m).error);
    // The burst was served in order; each lost message was announced; then the close.
    expect(echoes.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `Echo: flood ${i}`));
    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(errors.length).toBeLessThan(10);
    expect(errors[0]).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } });
    await bystander.checkpoint();
    expect(await bystander.stop()).toBeGreaterThan(0);
    const metrics = await http(`${srv.url}/metrics`);
    expect(metrics.body).toMatch(/wirehub_rate_limited_messages_total\{endpoint="echo"\} [1-9]/);
    expect(metrics.body).toMatch(/wirehub_closes_total\{endpoint="echo",code="4029"\} 1/);
  });

  it('on /rt, answers each dropped command with its own op:error id, then closes with 4029', async () => {
    srv = await startServer({ limits: { messageRate: 1, messageBurst: 5, messageStrikes: 3 } });
    const bystander = await Bystander.start(srv.wsUrl);
    const rt = await TestClient.connect(`${srv.wsUrl}/rt`);
    const ping = (id: number) => rt.ws.send(JSON.stringify({ op: 'ping', id }));
    for (let id = 1; id <= 5; id += 1) ping(id);
    for (let id = 1; id <= 5; id += 1) expect(await rt.nextJson()).toMatchObject({ op: 'reply', id });
    for (let id = 6; id <= 50; id += 1) ping(id);
    expect(await rt.closed).toEqual({ code: 4029, reason: 'rate limited: too many messages' });
    const errors = rt.messages.map((m) => JSON.parse(String(m)));
    expect(errors).toEqual(
      [6, 7, 8].map((id) => ({
        op: 'error',
        id,
        code: 'rate_limited',
        message: 'too many messages: this one was dropped',
        details: { retryAfterMs: expect.any(Number) },
      })),
    );
    expect(await bystander.stop()).toBeGreaterThan(0);
  });
});
