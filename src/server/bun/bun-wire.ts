import type { Frame } from '../../hub/frame.js';
import type { SessionWire } from '../ws/session-wire.js';
import type { BunServerWebSocket } from './bun-types.js';

const OPEN = 1;

/**
 * Bun's native `ServerWebSocket` as a session's wire: uWebSockets frames and writes each
 * frame; its own queue (`getBufferedAmount`) is the one the session's output cap watches.
 */
export class BunWire implements SessionWire {
  constructor(private readonly ws: BunServerWebSocket<unknown>) {}

  get open(): boolean {
    return this.ws.readyState === OPEN;
  }

  get writable(): boolean {
    return this.ws.readyState === OPEN;
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
    this.ws.close(code, reason);
  }

  ping(): void {
    this.ws.ping();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
