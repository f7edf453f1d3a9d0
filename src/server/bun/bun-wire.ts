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
 * Bun's native `ServerWebSocket` as a session's wire: uWebSockets frames and writes each
 * frame; its own queue (`getBufferedAmount`) is the one the session's output cap watches.
 */
export class BunWire implements SessionWire {
  /** `close` or `terminate` was called: no frame may follow. */
  private ended = false;
  /** `getBufferedAmount` touches the native socket (see `SessionWire.boundsQueue`). */
  get boundsQueue(): boolean {
    return true;
  }

  constructor(
    private readonly ws: BunServerWebSocket<unknown>,
    readonly fanout: BunFanout,
  ) {}

  subscribe(group: string): boolean {
    // Bun answers true for a topic the socket is already in; the hub must know (see Hub.join).
    if (this.ws.isSubscribed(group)) return false;
    return this.ws.subscribe(group);
  }

  unsubscribe(group: string): void {
    this.ws.unsubscribe(group);
  }

  get open(): boolean {
    return this.ws.readyState === OPEN;
  }

  /**
   * From JS state, not `readyState`: fan-out asks it of every subscriber for every delivery, and
   * reading the native socket of each (a cache miss apiece) was most of the hub's CPU time in a
   * flat-out fan-out. A socket's end is known without it: `close`/`terminate` here, and Bun runs
   * the close handler (which closes the session, checked before this) as soon as it is gone.
   */
  get writable(): boolean {
    return !this.ended;
  }

  get bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }

  send(frame: Frame): void {
    if (frame.binary) {
      this.ws.sendBinary(frame.payload, false);
      return;
    }
    // Bun sends text frames from strings only: decoded once per frame, shared by its subscribers.
    frame.text ??= frame.payload.toString('utf8');
    this.ws.sendText(frame.text, false);
  }

  close(code: number, reason?: string): void {
    this.ended = true;
    this.ws.close(code, reason);
  }

  ping(): void {
    this.ws.ping();
  }

  terminate(): void {
    this.ended = true;
    this.ws.terminate();
  }
}
