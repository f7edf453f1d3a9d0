import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { ConnectionHandlers } from '../../endpoints/endpoint.js';
import type { FanoutMember, FanoutTransport } from '../../hub/fanout.js';
import { Frame } from '../../hub/frame.js';
import type { Principal } from '../../hub/principal.js';
import type { OverflowPolicy, Session } from '../../hub/session.js';
import { CloseCode, WirehubError } from '../../protocol/index.js';
import type { Logger } from '../../util/logger.js';
import type { EndpointStats } from '../metrics.js';
import type { MessageLimiter } from '../security/message-limiter.js';
import { heartbeatRound } from './heartbeat.js';
import type { SessionWire } from './session-wire.js';
import type { WriteBatcher } from './write-batcher.js';
import { wireBytes } from './ws-framing.js';

/**
 * Under Bun, `ws` is Bun's own implementation and the upgrade socket is not the connection's
 * writer: bytes written to it once the peer reads slowly stay queued for good (Bun 1.4.5).
 * There, frames go through the WebSocket's `send` and its `bufferedAmount` is the queue.
 */
const VIA_WS = typeof process.versions.bun === 'string';

const OPEN = 1;
/** What a frame adds to a socket's queue beyond its payload: at most a 10-byte header. */
const FRAME_OVERHEAD = 10;
/**
 * A session that bounds its queue (`SessionWire.boundsQueue`) still reads it after this many
 * frames: bytes it did not write itself (pongs to the client's pings, a ping of ours) count too.
 */
const QUEUE_READ_EVERY = 32;
/** Longest delay setTimeout honours; a later expiry is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What every session of one endpoint shares. Built once per endpoint (see UpgradeGate), so an
 * idle connection does not carry its own copy of these references.
 */
export interface WsEndpointShared {
  endpoint: string;
  /** How the endpoint words an error about a dropped message (default `{"error":…}`). */
  errorFrame?: ((err: WirehubError, data: string | Buffer) => Frame) | undefined;
  maxQueuedBytes: number;
  acceptsBinary: boolean;
  stats: EndpointStats;
  /** Writes pre-framed bytes to `ws` upgrade sockets; none for a transport with its own wire. */
  batcher?: WriteBatcher | undefined;
  log: Logger;
  onClosed(session: WsSession, code: number): void;
}

/** What is this connection's own. */
export interface WsSessionOptions {
  id: string;
  remoteAddress: string;
  user: string | undefined;
  principal: Principal;
  /** Inbound message rate; none when the limit is off. */
  limiter?: MessageLimiter | undefined;
  /**
   * The raw socket of a `ws` upgrade: frames are written to it directly, pre-framed. None for
   * a transport that brings its own wire (Bun's native server, `attachWire`).
   */
  socket?: Duplex | undefined;
  /** The slots the upgrade took (connection limits), given back by the endpoint's `onClosed`. */
  admission?: { release(): void } | undefined;
}

/**
 * A session over the `ws` library. It exists from the moment the upgrade is accepted, before
 * the handshake completes: frames sent that early are queued and written right after the
 * 101 response. Outbound frames bypass ws's per-send framing: each Frame is framed once
 * (shared by all subscribers) and written to the socket, which is safe because
 * permessage-deflate is off, so ws never queues frames of its own.
 *
 * An idle connection holds one of these: its fields are what a connection needs of its own
 * (bench/idle-census.ts counts them); what all sessions of an endpoint share is in `shared`.
 */
export class WsSession implements Session, FanoutMember {
  readonly id: string;
  readonly remoteAddress: string;
  /** A number, not a Date, to keep idle sessions small; `connectedAt` makes the Date on demand. */
  private readonly connectedAtMs = Date.now();
  private _principal: Principal;
  private readonly _user: string | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Heartbeat bookkeeping: the heartbeat round (heartbeat.ts) of the last pong. */
  pongRound = heartbeatRound();
  /** The `ws` WebSocket once the handshake is done (Node). */
  private ws: WebSocket | undefined;
  /** The connection of a transport with its own wire (Bun's native server). */
  private wire: SessionWire | undefined;
  private handlers: ConnectionHandlers = NO_HANDLERS;
  /** Frames sent before the handshake completed; made on the first such frame. */
  private early: Frame[] | undefined;
  private closed = false;
  private closeCodeSent: number | undefined;
  private readonly socket: Duplex | undefined;
  private readonly limiter: MessageLimiter | undefined;
  /** @internal The upgrade's slots, released when the session closes. */
  readonly admission: { release(): void } | undefined;
  private readonly shared: WsEndpointShared;
  /**
   * On a wire that `boundsQueue`: the queue's size at the last read plus what was written since
   * (never less than the real one), and the frames written since that read.
   */
  private queueBound = 0;
  private framesSinceRead = 0;

  constructor(opts: WsSessionOptions, shared: WsEndpointShared) {
    this.id = opts.id;
    this.remoteAddress = opts.remoteAddress;
    this._principal = opts.principal;
    this._user = opts.user;
    this.socket = opts.socket;
    this.limiter = opts.limiter;
    this.admission = opts.admission;
    this.shared = shared;
    if (opts.principal.expiresAt !== undefined) this.armExpiry();
  }

  get endpoint(): string {
    return this.shared.endpoint;
  }

  /** @internal The server's logger (the upgrade gate logs the connect with it). */
  get log(): Logger {
    return this.shared.log;
  }

  get connectedAt(): Date {
    return new Date(this.connectedAtMs);
  }

  get user(): string | undefined {
    return this._user ?? this._principal.user;
  }

  get principal(): Principal {
    return this._principal;
  }

  reauthenticate(principal: Principal): void {
    if (principal.user !== this._principal.user) {
      throw new WirehubError('forbidden', 'the new token is for another user than this connection');
    }
    this._principal = principal;
    this.armExpiry();
  }

  /** Closes the connection with 4001 when its credentials expire (a refresh moves the deadline). */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const expiresAt = this._principal.expiresAt;
    if (expiresAt === undefined || this.closed) return;
    const wait = expiresAt - Date.now();
    if (wait <= 0) {
      this.close(CloseCode.Unauthorized, 'token expired');
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(wait, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  get bufferedAmount(): number {
    if (VIA_WS && this.ws) return this.ws.bufferedAmount;
    return this.wire?.bufferedAmount ?? this.socket?.writableLength ?? 0;
  }

  get isOpen(): boolean {
    if (this.closed || this.closeCodeSent !== undefined) return false;
    if (this.ws) return this.ws.readyState === OPEN;
    return this.wire === undefined || this.wire.open;
  }

  /** @internal The transport saw a pong. */
  onPong(): void {
    this.pongRound = heartbeatRound();
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
    // The socket died while the endpoint was opening: undo what `open` set up.
    if (this.closed) this.runCloseHandler(CloseCode.Abnormal);
  }

  /** Binds the session to its `ws` WebSocket once the handshake is done and flushes early frames. */
  attach(ws: WebSocket): void {
    if (!this.socket || !this.shared.batcher)
      throw new Error('a ws session needs its upgrade socket and a write batcher');
    if (ws instanceof SessionWebSocket) {
      ws.session = this;
    } else {
      // A WebSocketServer that ignores the `WebSocket` option (Bun's `ws`): listeners.
      (ws as ListenedWebSocket)[SESSION] = this;
      ws.on('message', onWsMessage);
      ws.on('pong', onWsPong);
      ws.on('error', onWsError);
      ws.on('close', onWsClose);
    }
    this.ws = ws;
    this.flushEarly();
  }

  /**
   * Binds the session to its connection once the handshake is done and flushes early frames.
   * The transport calls `onMessage`, `onPong` and `onSocketClosed` from its events.
   */
  attachWire(wire: SessionWire): void {
    this.wire = wire;
    this.flushEarly();
  }

  private flushEarly(): void {
    const early = this.early;
    this.early = undefined;
    if (early) for (const frame of early) this.send(frame);
    if (this.closeCodeSent !== undefined) {
      if (this.ws) this.ws.close(this.closeCodeSent);
      else this.wire?.close(this.closeCodeSent);
    }
  }

  send(frame: Frame, overflow: OverflowPolicy = 'disconnect'): boolean {
    if (this.closed || this.closeCodeSent !== undefined) return false;
    const ws = this.ws;
    const wire = this.wire;
    if (ws === undefined && wire === undefined) {
      if (this.early) this.early.push(frame);
      else this.early = [frame];
      return true;
    }
    if (ws !== undefined) {
      const socket = this.socket;
      if (ws.readyState !== OPEN || socket === undefined || socket.destroyed) return false;
      if (this.bufferedAmount > this.shared.maxQueuedBytes) return this.overflowed(overflow);
      if (VIA_WS) ws.send(frame.payload, { binary: frame.binary });
      else this.shared.batcher?.write(socket, wireBytes(frame));
    } else {
      if (!this.mayWrite(wire as SessionWire, overflow, frame)) return false;
      (wire as SessionWire).send(frame);
    }
    this.counted(frame);
    return true;
  }

  /**
   * The session's transport fan-out (Bun's topics), once its connection is up: this session
   * itself, so an idle connection carries no extra object. Undefined on `ws`.
   */
  get fanout(): FanoutMember | undefined {
    return this.wire?.fanout !== undefined ? this : undefined;
  }

  /** @internal See `FanoutMember`. */
  get fanoutTransport(): FanoutTransport {
    const fanout = this.wire?.fanout;
    if (!fanout) throw new Error('this session has no fan-out transport');
    return fanout;
  }

  /** @internal See `FanoutMember`. */
  joinGroup(group: string): boolean {
    if (this.closed || this.closeCodeSent !== undefined) return false;
    return this.wire?.subscribe?.(group) ?? false;
  }

  /** @internal See `FanoutMember`. */
  leaveGroup(group: string): void {
    this.wire?.unsubscribe?.(group);
  }

  /** @internal `send`'s rules and accounting for a frame a group publish writes (see `FanoutMember`). */
  admit(frame: Frame, overflow: OverflowPolicy): boolean {
    const wire = this.wire;
    if (this.closed || this.closeCodeSent !== undefined || wire === undefined) return false;
    if (!this.mayWrite(wire, overflow, frame)) return false;
    this.counted(frame);
    return true;
  }

  /** The connection takes a frame now: open, and its queue under the cap (else the overflow policy). */
  private mayWrite(wire: SessionWire, overflow: OverflowPolicy, frame: Frame): boolean {
    if (!wire.writable) return false;
    const shared = this.shared;
    if (wire.boundsQueue === true) {
      // The same decision as reading the queue for every frame: while the bound is under the
      // cap, so is the queue. Read it when the bound says it may be over, and now and then.
      if (this.queueBound <= shared.maxQueuedBytes && this.framesSinceRead < QUEUE_READ_EVERY) {
        this.queueBound += frame.byteLength + FRAME_OVERHEAD;
        this.framesSinceRead += 1;
        return true;
      }
      this.queueBound = wire.bufferedAmount;
      this.framesSinceRead = 0;
      if (this.queueBound <= shared.maxQueuedBytes) {
        this.queueBound += frame.byteLength + FRAME_OVERHEAD;
        this.framesSinceRead = 1;
        return true;
      }
    } else if (wire.bufferedAmount <= shared.maxQueuedBytes) {
      return true;
    }
    return this.overflowed(overflow);
  }

  /** The queue is over the cap: the overflow policy decides. Always false (nothing written). */
  private overflowed(overflow: OverflowPolicy): false {
    const shared = this.shared;
    if (overflow === 'drop') {
      shared.stats.drops += 1;
    } else {
      shared.stats.slowDisconnects += 1;
      this.close(CloseCode.SlowConsumer, 'slow consumer');
    }
    return false;
  }

  private counted(frame: Frame): void {
    const stats = this.shared.stats;
    stats.messagesOut += 1;
    stats.bytesOut += frame.byteLength;
  }

  close(code: number, reason?: string): void {
    if (this.closed || this.closeCodeSent !== undefined) return;
    this.closeCodeSent = code;
    if (this.ws) this.ws.close(code, reason);
    else this.wire?.close(code, reason);
  }

  /** Sends a heartbeat ping. */
  ping(): void {
    if (this.ws) this.ws.ping();
    else this.wire?.ping();
  }

  /** Drops the connection without a closing handshake (dead peer). */
  terminate(code: number): void {
    this.closeCodeSent ??= code;
    if (this.ws) this.ws.terminate();
    else if (this.wire) this.wire.terminate();
    else this.finish(code);
  }

  /** Called when the upgrade never completed (the socket died during the handshake). */
  abandon(): void {
    this.finish(CloseCode.Abnormal);
  }

  /** @internal Called by the transport (the shared `ws` listeners below; Bun's handlers). */
  onMessage(data: Buffer | string, isBinary: boolean): void {
    if (this.closed || this.closeCodeSent !== undefined) return;
    const stats = this.shared.stats;
    stats.messagesIn += 1;
    stats.bytesIn += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (isBinary && !this.shared.acceptsBinary) {
      this.close(CloseCode.UnsupportedData, 'binary frames are not supported on this endpoint; send text');
      return;
    }
    const limiter = this.limiter;
    if (limiter) {
      const verdict = limiter.take();
      if (verdict !== 'accept') {
        stats.rateLimited += 1;
        if (verdict === 'close') {
          this.close(CloseCode.RateLimited, 'rate limited: too many messages');
          return;
        }
        // The client learns which message was lost; the overflow policy is drop, so a
        // flooder that does not read cannot make us queue its errors.
        const error = new WirehubError('rate_limited', 'too many messages: this one was dropped', {
          retryAfterMs: limiter.retryAfterMs(),
        });
        const text = isBinary || typeof data === 'string' ? data : data.toString('utf8');
        this.send(this.shared.errorFrame?.(error, text) ?? Frame.json({ error: error.toJSON() }), 'drop');
        return;
      }
    }
    const handlers = this.handlers;
    if (!handlers.message) return;
    try {
      // Called as a method: an endpoint's handlers may be a class instance (see echo.ts).
      const result = handlers.message(
        isBinary || typeof data === 'string' ? data : data.toString('utf8'),
        isBinary,
      );
      if (result) result.catch((err: unknown) => this.handlerFailed(err));
    } catch (err) {
      this.handlerFailed(err);
    }
  }

  /**
   * A message handler failed. A WirehubError is an answer for the client (e.g. a publish
   * refused while the broker is down): it gets `{"error":{"code","message"}}` and the socket
   * stays open. Anything else is a bug: logged, and the connection closes with 1011.
   */
  private handlerFailed(err: unknown): void {
    if (err instanceof WirehubError) {
      this.send(Frame.json({ error: err.toJSON() }));
      return;
    }
    this.shared.log.error({ session: this.id, endpoint: this.endpoint, err }, 'endpoint handler failed');
    this.close(CloseCode.Internal, 'internal error');
  }

  /** @internal ws reported a protocol error; it closes the connection itself. */
  onProtocolError(err: Error & { code?: string }): void {
    // 1007 bad UTF-8, 1009 too big, 1002 protocol.
    this.closeCodeSent ??= wsErrorCloseCode(err.code);
    this.shared.log.debug({ session: this.id, err: err.message }, 'websocket protocol error');
  }

  /** @internal The WebSocket is gone. */
  onSocketClosed(code: number): void {
    this.finish(this.closeCodeSent ?? code);
  }

  private finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.early = undefined;
    clearTimeout(this.expiryTimer);
    this.shared.onClosed(this, code);
    this.runCloseHandler(code);
  }

  private runCloseHandler(code: number): void {
    const handlers = this.handlers;
    if (!handlers.close) return;
    try {
      const result = handlers.close(code);
      if (result)
        result.catch((err: unknown) =>
          this.shared.log.warn({ err, session: this.id }, 'close handler failed'),
        );
    } catch (err) {
      this.shared.log.warn({ err, session: this.id }, 'close handler failed');
    }
  }
}

/** The handlers of a session whose endpoint has not opened yet: one object for all. */
const NO_HANDLERS: ConnectionHandlers = Object.freeze({});

/**
 * The `ws` WebSocket of a session: `ws` builds one per upgrade (WebSocketServer's `WebSocket`
 * option) and reports to it by `emit`; this one hands the events straight to its session.
 * Four listeners per connection would each cost an entry in the WebSocket's `_events`
 * (a dictionary-mode object: the idle census measured ~100 bytes more per connection with
 * them), and a registration per handshake.
 */
export class SessionWebSocket extends WebSocket {
  /** @internal Set by `WsSession.attach`, right after `ws` took the socket. */
  session: WsSession | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const session = this.session;
    if (session !== undefined) {
      switch (event) {
        case 'message':
          session.onMessage(args[0] as Buffer, args[1] as boolean);
          return true;
        case 'pong':
          session.onPong();
          return true;
        case 'error':
          session.onProtocolError(args[0] as Error & { code?: string });
          return true;
        case 'close':
          session.onSocketClosed(args[0] as number);
          return true;
      }
    }
    return super.emit(event, ...args);
  }
}

/**
 * Where `ws` ignores the `WebSocket` option (Bun's own `ws`), the session listens: shared
 * functions that find their session on the socket, not four closures per connection.
 */
const SESSION = Symbol('wirehub.session');
type ListenedWebSocket = WebSocket & { [SESSION]: WsSession };
const sessionOf = (ws: WebSocket) => (ws as ListenedWebSocket)[SESSION];

function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  sessionOf(this).onMessage(data, isBinary);
}

function onWsPong(this: WebSocket): void {
  sessionOf(this).onPong();
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
      return CloseCode.ProtocolError;
  }
}
