import { describe, expect, it } from 'vitest';
import { SessionWebSocket, type WsSession } from '../../src/server/ws/ws-session.js';

/** What SessionWebSocket calls on its session, recorded. */
function fakeSession() {
  const calls: unknown[][] = [];
  const session = {
    onMessage: (...a: unknown[]) => calls.push(['message', ...a]),
    onPong: () => calls.push(['pong']),
    onProtocolError: (err: Error) => calls.push(['error', err.message]),
    onSocketClosed: (code: number) => calls.push(['close', code]),
  };
  return { calls, session: session as unknown as WsSession };
}

describe('SessionWebSocket', () => {
  it("hands ws's events to its session without a listener on the WebSocket", () => {
    // How WebSocketServer builds it (address null: the server side).
    const ws = new SessionWebSocket(null as unknown as string, undefined, { autoPong: true });
    const { calls, session } = fakeSession();
    ws.session = session;
    const data = Buffer.from('hi');
    expect(ws.emit('message', data, false)).toBe(true);
    expect(ws.emit('pong', Buffer.alloc(0))).toBe(true);
    expect(ws.emit('error', new Error('bad frame'))).toBe(true);
    expect(ws.emit('close', 1000, Buffer.alloc(0))).toBe(true);
    expect(calls).toEqual([['message', data, false], ['pong'], ['error', 'bad frame'], ['close', 1000]]);
    for (const event of ['message', 'pong', 'error', 'close']) expect(ws.listenerCount(event)).toBe(0);
  });

  it('leaves other events, and all events before its session is set, to EventEmitter', () => {
    const ws = new SessionWebSocket(null as unknown as string, undefined, { autoPong: true });
    const seen: unknown[] = [];
    ws.on('message', (d: unknown) => seen.push(d));
    ws.on('ping', (d: unknown) => seen.push(['ping', d]));
    expect(ws.emit('message', 'early')).toBe(true);
    ws.session = fakeSession().session;
    expect(ws.emit('ping', 'p')).toBe(true);
    expect(ws.emit('open')).toBe(false);
    expect(seen).toEqual(['early', ['ping', 'p']]);
  });
});
