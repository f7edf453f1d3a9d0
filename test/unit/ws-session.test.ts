import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { streamEndpoint } from '../../src/endpoints/stream.js';
import { Frame } from '../../src/hub/frame.js';
import { anonymousPrincipal } from '../../src/hub/principal.js';
import type { OverflowPolicy, Session } from '../../src/hub/session.js';
import { EndpointStats } from '../../src/server/metrics.js';
import { WriteBatcher } from '../../src/server/write-batcher.js';
import { WsSession } from '../../src/server/ws-session.js';
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

function makeSession(cap: number) {
  const socket = new StuckSocket();
  const stats = new EndpointStats();
  const closes: number[] = [];
  const session = new WsSession({
    id: 'c-test',
    endpoint: 'test',
    remoteAddress: '127.0.0.1',
    user: undefined,
    principal: anonymousPrincipal(),
    socket: socket as unknown as Duplex,
    maxQueuedBytes: cap,
    acceptsBinary: false,
    stats,
    batcher: new WriteBatcher(),
    log: silentLogger,
    onClosed: (_s, code) => closes.push(code),
  });
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
