import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { streamEndpoint } from '../../src/endpoints/stream.js';
import { Frame } from '../../src/hub/frame.js';
import { Permissions } from '../../src/hub/permissions.js';
import { anonymousPrincipal, type Principal } from '../../src/hub/principal.js';
import type { OverflowPolicy, Session } from '../../src/hub/session.js';
import { EndpointStats } from '../../src/server/metrics.js';
import type { SessionWire } from '../../src/server/ws/session-wire.js';
import { WriteBatcher } from '../../src/server/ws/write-batcher.js';
import { WsSession } from '../../src/server/ws/ws-session.js';
import { silentLogger } from '../../src/util/logger.js';

/** A socket whose kernel never takes anything: every write stays queued. */
class StuckSocket extends EventEmitter {
  writableLength = 0;
  writableCorked = 0;
  destroyed = false;
  readonly writes: Uint8Array[] = [];
  write(bytes: Uint8Array): boolean {
    this.writes.push(bytes);
    this.writableLength += bytes.byteLength;
    return false;
  }
  cork() {
    this.writableCorked += 1;
  }
  uncork() {
    this.writableCorked = Math.max(0, this.writableCorked - 1);
  }
}

class FakeWs extends EventEmitter {
  readyState = 1;
  closedWith: number | undefined;
  close(code: number) {
    this.closedWith = code;
    this.readyState = 2;
  }
  terminate() {}
  ping() {}
}

function makeSession(cap: number, principal: Principal = anonymousPrincipal(), wire?: SessionWire) {
  const socket = new StuckSocket();
  const stats = new EndpointStats();
  const closes: number[] = [];
  const session = new WsSession(
    {
      id: 'c-test',
      remoteAddress: '127.0.0.1',
      user: undefined,
      principal,
      socket: socket as unknown as Duplex,
    },
    {
      endpoint: 'test',
      maxQueuedBytes: cap,
      acceptsBinary: false,
      stats,
      batcher: new WriteBatcher(),
      wire,
      log: silentLogger,
      onClosed: (_s, code) => closes.push(code),
    },
  );
  const ws = new FakeWs();
  return { session, socket, stats, ws, closes, attach: () => session.attach(ws as unknown as WebSocket) };
}

describe('WsSession output cap', () => {
  it('queues frames sent before the handshake and writes them in order after it', () => {
    const { session, socket, attach } = makeSession(1024);
    session.send(Frame.text('a'));
    session.send(Frame.text('b'));
    expect(socket.writes).toHaveLength(0);
    attach();
    expect(socket.writes.map((w) => Buffer.from(w).subarray(2).toString())).toEqual(['a', 'b']);
  });

  it('drops frames over the cap under the drop policy and counts them', () => {
    const { session, socket, stats, ws, attach } = makeSession(100);
    attach();
    const frame = Frame.text('x'.repeat(60));
    const results = [1, 2, 3, 4].map(() => session.send(frame, 'drop'));
    expect(results).toEqual([true, true, false, false]);
    expect(stats.drops).toBe(2);
    expect(ws.closedWith).toBeUndefined();
    expect(socket.writableLength).toBe(124);
  });

  it('closes with 4008 over the cap under the disconnect policy', () => {
    const { session, stats, ws, attach } = makeSession(100);
    attach();
    const frame = Frame.text('x'.repeat(60));
    session.send(frame);
    session.send(frame);
    expect(session.send(frame)).toBe(false);
    expect(ws.closedWith).toBe(4008);
    expect(stats.slowDisconnects).toBe(1);
    expect(session.send(frame)).toBe(false);
    expect(stats.slowDisconnects).toBe(1);
  });
});

describe('WsSession over a wire that bounds its queue (Bun)', () => {
  /** A wire whose queue takes every byte (nothing drains) and counts how often it is read. */
  function boundedWire() {
    const wire = {
      queued: 0,
      reads: 0,
      boundsQueue: true,
      isOpen: true,
      open: () => wire.isOpen,
      bufferedAmount() {
        wire.reads += 1;
        return wire.queued;
      },
      send(_conn: unknown, frame: Frame) {
        wire.queued += frame.byteLength + 2;
      },
      close() {
        wire.isOpen = false;
      },
      ping() {},
      terminate() {},
    };
    return wire;
  }

  it('decides at the same frame as a read per frame would, reading the queue far less often', () => {
    for (const policy of ['drop', 'disconnect'] as const) {
      const wire = boundedWire();
      const { session, stats } = makeSession(10_000, anonymousPrincipal(), wire);
      session.attachWire({});
      const frame = Frame.text('x'.repeat(98));
      let sent = 0;
      while (session.send(frame, policy)) sent += 1;
      // Per-frame reads admit while the queue (100 bytes a frame) is at most 10,000: 101 frames.
      expect(sent).toBe(101);
      expect(wire.reads).toBeLessThan(sent / 4);
      expect(policy === 'drop' ? stats.drops : stats.slowDisconnects).toBe(1);
    }
  });

  it('still reads now and then: bytes it did not write (pongs) count', () => {
    const wire = boundedWire();
    const { session } = makeSession(10_000, anonymousPrincipal(), wire);
    session.attachWire({});
    wire.queued = 20_000; // the client's pings answered while it reads nothing
    const frame = Frame.text('x');
    let sent = 0;
    while (session.send(frame, 'drop')) sent += 1;
    expect(sent).toBeLessThanOrEqual(32);
  });
});

describe('/stream under a slow client', () => {
  it('sends its samples with the drop policy', () => {
    const policies: (OverflowPolicy | undefined)[] = [];
    const session = {
      id: 'c-x',
      send: (_f: Frame, policy?: OverflowPolicy) => {
        policies.push(policy);
        return true;
      },
    } as unknown as Session;
    const handlers = streamEndpoint.open(session, {} as never, 60_000) as { close?: (c: number) => void };
    handlers.close?.(1000);
    expect(policies).toEqual(['drop']);
  });
});

function jwtPrincipal(user: string, expiresAt: number): Principal {
  return { user, method: 'jwt', claims: { sub: user }, expiresAt, permissions: new Permissions({}, user) };
}

describe('WsSession credential expiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes with 4001 when the token expires, and a refresh for the same user moves the deadline', () => {
    vi.useFakeTimers({ now: 0 });
    const { session, ws, attach } = makeSession(1024, jwtPrincipal('alice', 10_000));
    attach();
    expect(session.user).toBe('alice');
    vi.advanceTimersByTime(9_000);
    session.reauthenticate(jwtPrincipal('alice', 20_000));
    vi.advanceTimersByTime(2_000);
    expect(ws.closedWith).toBeUndefined();
    expect(() => session.reauthenticate(jwtPrincipal('mallory', 60_000))).toThrow(
      expect.objectContaining({ code: 'forbidden' }),
    );
    expect(session.principal.expiresAt).toBe(20_000);
    vi.advanceTimersByTime(9_000);
    expect(ws.closedWith).toBe(4001);
  });

  it('reaches expiries beyond the longest timer in steps', () => {
    vi.useFakeTimers({ now: 0 });
    const far = 40 * 24 * 3600 * 1000; // 40 days: over setTimeout's 24.8-day ceiling
    const { ws, attach } = makeSession(1024, jwtPrincipal('alice', far));
    attach();
    vi.advanceTimersByTime(far - 1);
    expect(ws.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(ws.closedWith).toBe(4001);
  });

  it('closes at once when the credentials are already expired, and never for anonymous sessions', () => {
    vi.useFakeTimers({ now: 5_000 });
    const expired = makeSession(1024, jwtPrincipal('alice', 4_000));
    expired.attach();
    expect(expired.ws.closedWith).toBe(4001);
    const anon = makeSession(1024);
    anon.attach();
    vi.advanceTimersByTime(365 * 24 * 3600 * 1000);
    expect(anon.ws.closedWith).toBeUndefined();
  });
});
