import type { FanoutTransport } from '../../hub/fanout.js';
import type { Frame } from '../../hub/frame.js';
import type { SessionWire } from '../ws/session-wire.js';
import type { BunServer, BunServerWebSocket } from './bun-types.js';

const OPEN = 1;

/**
 * Fan-out groups on Bun's native server: a group is a topic. `server.publish` queues the frame
 * once for every subscribed socket and uWebSockets writes each socket once per loop iteration
 * (before any later `send` to it, so the order per connection holds), where a `sendText` per
 * subscriber is one write each: on Bun 1.4.5 about 0.26 µs against 9 µs of CPU per delivery
 * (bench/bun-send-vs-publish.mjs). A socket over its backpressure gets the queued bytes added
 * to `getBufferedAmount` as with a send, so the session's output cap still sees them.
 */
export class BunFanout implements FanoutTransport {
  /** Group publishes made (for tests and benchmarks: fan-out took the topic path). */
  publishes = 0;
  private server: BunServer | undefined;

  /** The server is known once `Bun.serve` returned; no socket exists before that. */
  bind(server: BunServer): void {
    this.server = server;
  }

  publish(group: string, frame: Frame): void {
    const server = this.server;
    if (!server) return;
    this.publishes += 1;
    if (frame.binary) {
      server.publish(group, frame.payload, false);
      return;
    }
    // Text frames from strings, as in `BunWire.send`: decoded once per frame.
    frame.text ??= frame.payload.toString('utf8');
    server.publish(group, frame.text, false);
  }
}

/**
 * Bun's native `ServerWebSocket` as the sessions' wire: uWebSockets frames and writes each
 * frame; a socket's own queue (`getBufferedAmount`) is the one the session's output cap
 * watches. One per server: the session holds its socket and passes it in.
 */
export class BunWire implements SessionWire<BunServerWebSocket<unknown>> {
  /** `getBufferedAmount` touches the native socket (see `SessionWire.boundsQueue`). */
  get boundsQueue(): boolean {
    return true;
  }

  constructor(readonly fanout: BunFanout) {}

  subscribe(ws: BunServerWebSocket<unknown>, group: string): boolean {
    // Bun answers true for a topic the socket is already in; the hub must know (see Hub.join).
    if (ws.isSubscribed(group)) return false;
    return ws.subscribe(group);
  }

  unsubscribe(ws: BunServerWebSocket<unknown>, group: string): void {
    ws.unsubscribe(group);
  }

  open(ws: BunServerWebSocket<unknown>): boolean {
    return ws.readyState === OPEN;
  }

  bufferedAmount(ws: BunServerWebSocket<unknown>): number {
    return ws.getBufferedAmount();
  }

  send(ws: BunServerWebSocket<unknown>, frame: Frame): void {
    if (frame.binary) {
      ws.sendBinary(frame.payload, false);
      return;
    }
    // Bun sends text frames from strings only: decoded once per frame, shared by its subscribers.
    frame.text ??= frame.payload.toString('utf8');
    ws.sendText(frame.text, false);
  }

  close(ws: BunServerWebSocket<unknown>, code: number, reason?: string): void {
    ws.close(code, reason);
  }

  ping(ws: BunServerWebSocket<unknown>): void {
    ws.ping();
  }

  terminate(ws: BunServerWebSocket<unknown>): void {
    ws.terminate();
  }
}
