import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { nativeLoadProblems, runNativeLoad } from '../../bench/support/native-load.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * wsload, the C load generator of the benchmarks (bench/support/wsload.c), built with the
 * machine's compiler and run against a real server: its counts must add up exactly, and its
 * checks must catch a server that loses, reorders or closes, or every number it prints is suspect.
 */

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ maxPayloadBytes: 1024 * 1024 });
});

afterAll(async () => {
  await srv.close();
});

// Counted runs: the window ends when all is sent and answered; the duration is a bound only.
const base = { warmupMs: 0, durationMs: 30_000, drainMs: 5_000 };

describe('wsload against wirehub', () => {
  it.each([
    ['7-bit', 64],
    ['16-bit', 3_000],
    ['64-bit', 70_000],
  ])('echo with %s frame lengths: every message answered once, in order', async (_, payloadBytes) => {
    const r = await runNativeLoad({
      ...base,
      mode: 'echo',
      url: `${srv.wsUrl}/echo`,
      connections: 5,
      window: 4,
      payloadBytes,
      count: 300,
      serverPid: process.pid,
    });
    expect(nativeLoadProblems(r)).toEqual([]);
    expect(r.sent).toBe(300);
    expect(r.received).toBe(300);
    expect(r.latencyMs.count).toBe(300);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.p50);
    expect(r.server.rssStartBytes).toBeGreaterThan(0);
    expect(r.server.cpuMs).toBeGreaterThanOrEqual(0);
  });

  it('fan-out flat out: every publication reaches every subscriber, the sender included', async () => {
    const r = await runNativeLoad({
      ...base,
      mode: 'fanout',
      url: `${srv.wsUrl}/broadcast`,
      connections: 20,
      inFlight: 4,
      payloadBytes: 64,
      count: 100,
    });
    expect(nativeLoadProblems(r)).toEqual([]);
    expect(r.sent).toBe(100);
    expect(r.received).toBe(2_000);
    expect(r.expectedDeliveries).toBe(2_000);
  });

  it('fan-out with several publishers: each publishes in turn, and nothing is lost or out of its order', async () => {
    const r = await runNativeLoad({
      ...base,
      mode: 'fanout',
      url: `${srv.wsUrl}/broadcast`,
      connections: 20,
      inFlight: 8,
      publishers: 4,
      payloadBytes: 64,
      count: 100,
    });
    expect(nativeLoadProblems(r)).toEqual([]);
    expect(r.publishers).toBe(4);
    expect(r.sent).toBe(100);
    expect(r.received).toBe(2_000);
  });

  it('fan-out at a fixed rate: latency is measured from when each publication was due', async () => {
    const r = await runNativeLoad({
      ...base,
      mode: 'fanout',
      url: `${srv.wsUrl}/broadcast`,
      connections: 10,
      rate: 200,
      payloadBytes: 64,
      count: 40,
    });
    expect(nativeLoadProblems(r)).toEqual([]);
    expect(r.received).toBe(400);
    expect(r.latencyMs.count).toBe(400);
  });

  it('says why it could not connect', async () => {
    await expect(
      runNativeLoad({
        ...base,
        mode: 'echo',
        url: `${srv.wsUrl}/no-such-endpoint`,
        connections: 1,
        payloadBytes: 8,
      }),
    ).rejects.toThrow(/handshake refused: HTTP\/1.1 404/);
  });
});

describe('wsload against a server that misbehaves', () => {
  let wss: WebSocketServer;
  let url: string;
  let pongs = 0;
  /** `/swap-pairs`: publications seen over all senders, and the one held back. */
  const swap = { n: 0, held: '' };

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (socket, req) => {
      socket.on('pong', () => {
        pongs += 1;
      });
      // Every client is pinged: wsload must answer with a pong and carry on.
      socket.ping('are-you-there');
      let n = 0;
      socket.on('message', (data) => {
        n += 1;
        const text = data.toString();
        if (req.url === '/lossy') {
          // A broadcast that skips the 10th frame for everyone but the sender.
          for (const client of wss.clients) if (client === socket || n !== 10) client.send(text);
        } else if (req.url === '/swap-pairs') {
          // A broadcast that delivers each pair of publications (counted over all senders)
          // the other way round.
          swap.n += 1;
          if (swap.n % 2 === 1) swap.held = text;
          else {
            for (const client of wss.clients) {
              client.send(text);
              client.send(swap.held);
            }
          }
        } else if (req.url === '/reorder') {
          // An echo that swaps the 3rd and 4th answers.
          if (n === 3) (socket as unknown as { held?: string }).held = text;
          else {
            socket.send(text);
            const held = (socket as unknown as { held?: string }).held;
            if (n === 4 && held) socket.send(held);
          }
        } else if (req.url === '/closing' && n === 5) {
          socket.close(4008, 'slow consumer');
        } else {
          socket.send(text);
        }
      });
    });
  });

  afterAll(async () => {
    await new Promise((resolve) => wss.close(resolve));
  });

  it('counts the deliveries a broadcast loses', async () => {
    const r = await runNativeLoad({
      ...base,
      mode: 'fanout',
      durationMs: 1_000, // never settles: a publication stays short of some subscribers
      url: `${url}/lossy`,
      connections: 5,
      // A fixed rate, so publishing goes on after the loss and the gap shows on each receiver.
      rate: 500,
      payloadBytes: 32,
      count: 20,
      drainMs: 300,
    });
    expect(r.sent).toBe(20);
    expect(r.lost).toBe(4);
    expect(r.outOfOrder).toBe(4);
    expect(nativeLoadProblems(r)).toContain('lost=4');
    expect(pongs).toBeGreaterThanOrEqual(5);
  });

  it.each([
    [1, 40],
    [2, 0],
  ])(
    'fan-out order is one publisher’s (publishers: %i): a swap of neighbours counts %i times',
    async (publishers, outOfOrder) => {
      // Neighbouring publications come from one publisher when there is one, from two when
      // there are two: swapping those is allowed (no server orders two publishers' messages).
      const r = await runNativeLoad({
        ...base,
        mode: 'fanout',
        url: `${url}/swap-pairs`,
        connections: 2,
        publishers,
        rate: 500,
        payloadBytes: 16,
        count: 20,
      });
      expect(r.received).toBe(40);
      expect(r.lost).toBe(0);
      expect(r.outOfOrder).toBe(outOfOrder);
    },
  );

  it('counts answers that come back out of order', async () => {
    const r = await runNativeLoad({
      ...base,
      mode: 'echo',
      url: `${url}/reorder`,
      connections: 1,
      window: 4,
      payloadBytes: 16,
      count: 10,
    });
    expect(r.received).toBe(10);
    expect(r.mismatched).toBe(2);
  });

  it('reports a connection the server closed, with its code and reason', async () => {
    const r = await runNativeLoad({
      ...base,
      mode: 'echo',
      durationMs: 1_000, // never reaches its count: the server closes at the 5th message
      url: `${url}/closing`,
      connections: 1,
      window: 1,
      payloadBytes: 16,
      count: 10,
    });
    expect(r.disconnects).toBe(1);
    expect(r.errors).toContain('server closed the connection: 4008 slow consumer');
    expect(nativeLoadProblems(r)).toContain('disconnects=1');
  });
});
