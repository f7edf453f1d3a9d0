import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMany, SourceAddresses } from '../../src/cli/bench/connect.js';
import { wsDriver } from '../../src/cli/bench/driver.js';
import { runEcho } from '../../src/cli/bench/echo.js';
import { runFanout } from '../../src/cli/bench/fanout.js';
import { plainTextEncoder } from '../../src/endpoints/encoders.js';
import { defineEndpoint, Frame, type Session } from '../../src/index.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * The scenarios' accounting must catch a misbehaving server: these endpoints lose, garble
 * or kick on purpose, and the reports must say so (and the loops must still end).
 */

let dropped = 0;
const lossyEndpoint = defineEndpoint({
  path: '/lossy',
  name: 'lossy',
  async open(session, { hub }) {
    await hub.subscribe('stream:lossy', { session, encoder: plainTextEncoder });
    let n = 0;
    return {
      async message(text) {
        n += 1;
        // Every third publication is swallowed.
        if (n % 3 === 0) {
          dropped += 1;
          return;
        }
        await hub.publish({ channel: 'stream:lossy', data: text });
      },
      close: () => hub.unsubscribe('stream:lossy', session),
    };
  },
});

const garblingEcho = defineEndpoint({
  path: '/garble',
  name: 'garble',
  open: (session) => ({
    message() {
      session.send(Frame.text('something else'));
    },
  }),
});

let kicked = 0;
const kickable = new Set<Session>();
const kickingEndpoint = defineEndpoint({
  path: '/kick',
  name: 'kick',
  async open(session, { hub }) {
    kickable.add(session);
    await hub.subscribe('stream:kick', { session, encoder: plainTextEncoder });
    let n = 0;
    return {
      async message(text) {
        n += 1;
        await hub.publish({ channel: 'stream:kick', data: text });
        // After the 5th publication one subscriber (not the publisher) is thrown out.
        if (n === 5) {
          const victim = [...kickable].find((s) => s !== session && s.isOpen);
          victim?.close(4008, 'slow consumer');
          kicked += 1;
        }
      },
      close: () => hub.unsubscribe('stream:kick', session),
    };
  },
});

const remotes: string[] = [];
const recordRemote = defineEndpoint({
  path: '/remote',
  name: 'remote',
  open(session) {
    remotes.push(session.remoteAddress);
    return {};
  },
});

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ endpoints: [lossyEndpoint, garblingEcho, kickingEndpoint, recordRemote] });
});

afterAll(async () => {
  await srv.close();
});

describe('bench accounting', () => {
  it('fanout counts publications a server swallows as lost deliveries, and still ends', async () => {
    const r = await runFanout({
      url: `${srv.wsUrl}/lossy`,
      durationMs: 1_000,
      drainTimeoutMs: 300,
      subscribers: 4,
      rate: 0,
      inFlight: 2,
      payloadBytes: 16,
      maxPublications: 12,
    });
    expect(dropped).toBeGreaterThan(0);
    expect(r.results.lost).toBe(4 * dropped);
    expect(r.results.deliveries).toBe(r.results.expectedDeliveries - r.results.lost);
    expect(r.results.outOfOrder).toBe(0);
  });

  it('echo counts replies that do not answer the message as mismatched', async () => {
    const r = await runEcho({
      url: `${srv.wsUrl}/garble`,
      durationMs: 1_000,
      connections: 2,
      inFlight: 1,
      payloadBytes: 16,
      maxMessages: 10,
    });
    expect(r.results.sent).toBe(10);
    expect(r.results.mismatched).toBe(10);
    expect(r.errors[0]).toMatch(/reply does not match/);
  });

  it('fanout keeps going when the server drops a subscriber, and reports the disconnect', async () => {
    const r = await runFanout({
      url: `${srv.wsUrl}/kick`,
      durationMs: 3_000,
      drainTimeoutMs: 2_000,
      subscribers: 5,
      rate: 0,
      inFlight: 1,
      payloadBytes: 16,
      maxPublications: 20,
    });
    expect(kicked).toBe(1);
    expect(r.results.disconnects).toBe(1);
    expect(r.results.publications).toBe(20);
    // 5 publications to 5 subscribers, then 15 to the 4 left.
    expect(r.results.deliveries).toBe(5 * 5 + 15 * 4);
    // The 6th may go out before the client sees the close: then it is lost for the victim.
    expect(r.results.lost).toBeLessThanOrEqual(1);
    expect(r.results.deliveries + r.results.lost).toBe(r.results.expectedDeliveries);
    expect(r.errors.join()).toMatch(/4008/);
  });

  it('spreads source addresses over 127.0.0.x', async () => {
    const host = new URL(srv.wsUrl).hostname;
    expect(host).toBe('127.0.0.1');
    const opened = await openMany({
      driver: wsDriver,
      url: `${srv.wsUrl}/remote`,
      count: 5,
      concurrency: 5,
      connect: { timeoutMs: 5_000 },
      deadlineMs: 5_000,
      sources: new SourceAddresses(srv.wsUrl, 5, 2),
    });
    expect(opened.failures).toBe(0);
    expect(remotes.sort()).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2', '127.0.0.3']);
    for (const s of opened.sockets) s.terminate();
  });
});
