import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ConnectionHandlers } from '../endpoints/endpoint.js';
import type { Frame } from '../hub/frame.js';
import type { OverflowPolicy, Session } from '../hub/session.js';
import { CloseCode } from '../protocol/index.js';
import type { Logger } from '../util/logger.js';
import type { EndpointStats } from './metrics.js';
import type { WriteBatcher } from './write-batcher.js';
import { wireBytes } from './ws-framing.js';

const OPEN = 1;

/**
 * What all sessions of a server share. One object for all of them, so an idle connection
 * does not carry its own copy of these or a closure per callback.
 */
export interface WsSessionHost {
  readonly batcher: WriteBatcher;
  readonly log: Logger;
  /** Per-session cap on queued output bytes. */
  readonly maxQueuedBytes: number;
  sessionClosed(session: WsSession, code: number): void;
}

export interface WsSessionOptions {
  id: string;
  endpoint: string;
  remoteAddress: string;
  user: string | undefined;
  /** The raw socket of the upgrade: frames are written to it directly, pre-framed. */
  socket: Duplex;
  acceptsBinary: boolean;
  stats: EndpointStats;
  host: WsSessionHost;
}

/**
 * A session over the `ws` library. It exists from the moment the upgrade is accepted, before
 * the handshake completes: frames sent that early are queued and written right after the
 * 101 response. Outbound frames bypass ws's per-send framing: each Frame is framed once
 * (shared by all subscribers) and written to the socket, which is safe because
 * permessage-deflate is off, so ws never queues frames of its own.
 */
export class WsSession implements Session {
  readonly id: string;
  readonly endpoint: string;
  readonly remoteAddress: string;
  /** A number, not a Date, to keep idle sessions small; `connectedAt` makes the Date on demand. */
  private readonly connectedAtMs = Date.now();
  readonly user: string | undefined;
  /** Heartbeat bookkeeping: when the last ping went out and whether its pong came back. */
  pongPending = false;
  private ws: WebSocket | undefined;
  private handlers: ConnectionHandlers = {};
  private early: Frame[] | undefined = [];
  private closed = false;
  private closeCodeSent: number | undefined;
  /** The endpoint's counters (shared by its sessions). */
  readonly stats: EndpointStats;
  private readonly socket: Duplex;
  private readonly host: WsSessionHost;
  private readonly acceptsBinary: boolean;

  constructor(opts: WsSessionOptions) {
    this.id = opts.id;
    this.endpoint = opts.endpoint;
    this.remoteAddress = opts.remoteAddress;
    this.user = opts.user;
    this.socket = opts.socket;
    this.stats = opts.stats;
    this.host = opts.host;
    this.acceptsBinary = opts.acceptsBinary;
  }

  get connectedAt(): Date {
    return new Date(this.connectedAtMs);
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get isOpen(): boolean {
    return (
      !this.closed &&
      this.closeCodeSent === undefined &&
      (this.ws === undefined || this.ws.readyState === OPEN)
    );
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
    // The socket died while the endpoint was opening: undo what `open` set up.
    if (this.closed) this.runCloseHandler(1006);
  }

  /** Binds the session to its WebSocket once the handshake is done and flushes early frames. */
  attach(ws: WebSocket): void {
    this.ws = ws;
    const early = this.early ?? [];
    this.early = undefined;
    (ws as SessionSocket)[SESSION] = this;
    ws.on('message', onWsMessage);
    ws.on('pong', onWsPong);
    ws.on('error', onWsError);
    ws.on('close', onWsClose);
    for (const frame of early) this.send(frame);
    if (this.closeCodeSent !== undefined) ws.close(this.closeCodeSent);
  }

  send(frame: Frame, overflow: OverflowPolicy = 'disconnect'): boolean {
    if (this.closed || this.closeCodeSent !== undefined) return false;
    if (this.early) {
      this.early.push(frame);
      return true;
    }
    const socket = this.socket;
    if (this.ws?.readyState !== OPEN || socket.destroyed) return false;
    if (socket.writableLength > this.host.maxQueuedBytes) {
      if (overflow === 'drop') {
        this.stats.drops += 1;
      } else {
        this.stats.slowDisconnects += 1;
        this.close(CloseCode.SlowConsumer, 'slow consumer');
      }
      return false;
    }
    this.host.batcher.write(socket, wireBytes(frame));
    const stats = this.stats;
    stats.messagesOut += 1;
    stats.bytesOut += frame.byteLength;
    return true;
  }

  close(code: number, reason?: string): void {
    if (this.closed || this.closeCodeSent !== undefined) return;
    this.closeCodeSent = code;
    if (this.ws) this.ws.close(code, reason);
  }

  /** Sends a heartbeat ping. */
  ping(): void {
    this.pongPending = true;
    this.ws?.ping();
  }

  /** Drops the connection without a closing handshake (dead peer). */
  terminate(code: number): void {
    this.closeCodeSent ??= code;
    if (this.ws) this.ws.terminate();
    else this.finish(code);
  }

  /** Called when the upgrade never completed (the socket died during the handshake). */
  abandon(): void {
    this.finish(1006);
  }

  /** @internal Called by the shared `ws` listeners below. */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed || this.closeCodeSent !== undefined) return;
    const stats = this.stats;
    stats.messagesIn += 1;
    stats.bytesIn += data.byteLength;
    if (isBinary && !this.acceptsBinary) {
      this.close(CloseCode.UnsupportedData, 'binary frames are not supported on this endpoint; send text');
      return;
    }
    const handler = this.handlers.message;
    if (!handler) return;
    try {
      const result = handler(isBinary ? data : data.toString('utf8'), isBinary);
      if (result) result.catch((err: unknown) => this.handlerFailed(err));
    } catch (err) {
      this.handlerFailed(err);
    }
  }

  private handlerFailed(err: unknown): void {
    this.host.log.error({ session: this.id, endpoint: this.endpoint, err }, 'endpoint handler failed');
    this.close(CloseCode.Internal, 'internal error');
  }

  /** @internal ws reported a protocol error; it closes the connection itself. */
  onProtocolError(err: Error & { code?: string }): void {
    // 1007 bad UTF-8, 1009 too big, 1002 protocol.
    this.closeCodeSent ??= wsErrorCloseCode(err.code);
    this.host.log.debug({ session: this.id, err: err.message }, 'websocket protocol error');
  }

  /** @internal The WebSocket is gone. */
  onSocketClosed(code: number): void {
    this.finish(this.closeCodeSent ?? code);
  }

  private finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.early = undefined;
    this.host.sessionClosed(this, code);
    this.runCloseHandler(code);
  }

  private runCloseHandler(code: number): void {
    const close = this.handlers.close;
    if (!close) return;
    try {
      const result = close(code);
      if (result)
        result.catch((err: unknown) => this.host.log.warn({ err, session: this.id }, 'close handler failed'));
    } catch (err) {
      this.host.log.warn({ err, session: this.id }, 'close handler failed');
    }
  }
}

/**
 * The WebSocket's listeners are shared functions that find their session on the socket
 * (EventEmitter calls them with `this` = the socket), not four closures per connection.
 */
const SESSION = Symbol('wirehub.session');
type SessionSocket = WebSocket & { [SESSION]: WsSession };
const sessionOf = (ws: WebSocket) => (ws as SessionSocket)[SESSION];

function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  sessionOf(this).onMessage(data, isBinary);
}

function onWsPong(this: WebSocket): void {
  sessionOf(this).pongPending = false;
}

function onWsError(this: WebSocket, err: Error & { code?: string }): void {
  sessionOf(this).onProtocolError(err);
}

function onWsClose(this: WebSocket, code: number): void {
  sessionOf(this).onSocketClosed(code);
}

function wsErrorCloseCode(code: string | undefined): number {
  switch (code) {
    case 'WS_ERR_INVALID_UTF8':
      return CloseCode.InvalidPayload;
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
      return CloseCode.TooBig;
    default:
      return 1002;
  }
}
