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
  /**
   * The wire of a transport with its own connections (Bun's native server): the sessions'
   * connections are its, and it writes to them (`attachWire`). None over `ws`.
   */
  wire?: SessionWire | undefined;
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
  /**
   * The per-IP connection slot the upgrade took (`Admission.handOver`), given back by the
   * endpoint's `onClosed`; undefined when that limit is off.
   */
  ipSlot?: string | undefined;
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
  /** What few connections have (a user set by a check, an expiry timer); made when needed. */
  private rare: RareState | undefined;
  /** Heartbeat bookkeeping: the heartbeat round (heartbeat.ts) of the last pong. */
  pongRound = heartbeatRound();
  /**
   * The connection once the handshake is done: the `ws` WebSocket (Node), or the connection of
   * a transport with its own wire (`shared.wire`, Bun's native server). One field for both:
   * under 19 fields a session takes a smaller size class of Bun's heap (160 bytes, not 224).
   */
  private conn: unknown;
  private handlers: ConnectionHandlers = NO_HANDLERS;
  /** Frames sent before the handshake completed; made on the first such frame. */
  private early: Frame[] | undefined;
  private closed = false;
  private closeCodeSent: number | undefined;
  private readonly socket: Duplex | undefined;
  private readonly limiter: MessageLimiter | undefined;
  /** @internal The upgrade's per-IP slot, given back when the session closes. */
  readonly ipSlot: string | undefined;
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
    if (opts.user !== undefined) this.rare = { user: opts.user, expiryTimer: undefined };
    this.socket = opts.socket;
    this.limiter = opts.limiter;
    this.ipSlot = opts.ipSlot;
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
    return this.rare?.user ?? this._principal.user;
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
    const rare = this.rare;
    if (rare?.expiryTimer !== undefined) {
      clearTimeout(rare.expiryTimer);
      rare.expiryTimer = undefined;
    }
    const expiresAt = this._principal.expiresAt;
    if (expiresAt === undefined || this.closed) return;
    const wait = expiresAt - Date.now();
    if (wait <= 0) {
      this.close(CloseCode.Unauthorized, 'token expired');
      return;
    }
    const timer = setTimeout(() => this.armExpiry(), Math.min(wait, MAX_TIMER_MS));
    timer.unref();
    if (rare) rare.expiryTimer = timer;
    else this.rare = { user: undefined, expiryTimer: timer };
  }

  get bufferedAmount(): number {
    const conn = this.conn;
    const wire = this.shared.wire;
    if (wire !== undefined) return conn === undefined ? 0 : wire.bufferedAmount(conn);
    if (VIA_WS && conn !== undefined) return (conn as WebSocket).bufferedAmount;
    return this.socket?.writableLength ?? 0;
  }

  get isOpen(): boolean {
    if (this.closed || this.closeCodeSent !== undefined) return false;
    const conn = this.conn;
    if (conn === undefined) return true;
    const wire = this.shared.wire;
    return wire !== undefined ? wire.open(conn) : (conn as WebSocket).readyState === OPEN;
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
    this.conn = ws;
    this.flushEarly();
  }

  /**
   * Binds the session to its connection on `shared.wire` once the handshake is done and
   * flushes early frames. The transport calls `onMessage`, `onPong` and `onSocketClosed` from
   * its events.
   */
  attachWire(conn: unknown): void {
    if (!this.shared.wire || conn === undefined) throw new Error("a wire session needs its endpoint's wire");
    this.conn = conn;
    this.flushEarly();
  }

  private flushEarly(): void {
    const early = this.early;
    this.early = undefined;
    if (early) for (const frame of early) this.send(frame);
    if (this.closeCodeSent !== undefined) this.closeConn(this.closeCodeSent);
  }

  send(frame: Frame, overflow: OverflowPolicy = 'disconnect'): boolean {
    if (this.closed || this.closeCodeSent !== undefined) return false;
    const conn = this.conn;
    if (conn === undefined) {
      if (this.early) this.early.push(frame);
      else this.early = [frame];
      return true;
    }
    const wire = this.shared.wire;
    if (wire === undefined) {
      const ws = conn as WebSocket;
      const socket = this.socket;
      if (ws.readyState !== OPEN || socket === undefined || socket.destroyed) return false;
      if (this.bufferedAmount > this.shared.maxQueuedBytes) return this.overflowed(overflow);
      if (VIA_WS) ws.send(frame.payload, { binary: frame.binary });
      else this.shared.batcher?.write(socket, wireBytes(frame));
    } else {
      if (!this.mayWrite(wire, conn, overflow, frame)) return false;
      wire.send(conn, frame);
    }
    this.counted(frame);
    return true;
  }

  /**
   * The session's transport fan-out (Bun's topics), once its connection is up: this session
   * itself, so an idle connection carries no extra object. Undefined on `ws`.
   */
  get fanout(): FanoutMember | undefined {
    return this.conn !== undefined && this.shared.wire?.fanout !== undefined ? this : undefined;
  }

  /** @internal See `FanoutMember`. */
  get fanoutTransport(): FanoutTransport {
    const fanout = this.shared.wire?.fanout;
    if (!fanout) throw new Error('this session has no fan-out transport');
    return fanout;
  }

  /** @internal See `FanoutMember`. */
  joinGroup(group: string): boolean {
    const conn = this.conn;
    if (this.closed || this.closeCodeSent !== undefined || conn === undefined) return false;
    return this.shared.wire?.subscribe?.(conn, group) ?? false;
  }

  /** @internal See `FanoutMember`. */
  leaveGroup(group: string): void {
    const conn = this.conn;
    if (conn !== undefined) this.shared.wire?.unsubscribe?.(conn, group);
  }

  /** @internal `send`'s rules and accounting for a frame a group publish writes (see `FanoutMember`). */
  admit(frame: Frame, overflow: OverflowPolicy): boolean {
    const wire = this.shared.wire;
    const conn = this.conn;
    if (this.closed || this.closeCodeSent !== undefined || wire === undefined || conn === undefined)
      return false;
    if (!this.mayWrite(wire, conn, overflow, frame)) return false;
    this.counted(frame);
    return true;
  }

  /**
   * The connection takes a frame now: its queue under the cap (else the overflow policy). Its
   * callers have checked that the session is neither closed nor closing, from JS state: fan-out
   * asks it of every subscriber for every delivery, and reading each native socket's state (a
   * cache miss apiece) was most of the hub's CPU time in a flat-out fan-out. A socket's end is
   * known without it: the session's own `close`/`terminate`, and Bun runs the close handler
   * (which closes the session) as soon as the socket is gone.
   */
  private mayWrite(wire: SessionWire, conn: unknown, overflow: OverflowPolicy, frame: Frame): boolean {
    const shared = this.shared;
    if (wire.boundsQueue === true) {
      // The same decision as reading the queue for every frame: while the bound is under the
      // cap, so is the queue. Read it when the bound says it may be over, and now and then.
      if (this.queueBound <= shared.maxQueuedBytes && this.framesSinceRead < QUEUE_READ_EVERY) {
        this.queueBound += frame.byteLength + FRAME_OVERHEAD;
        this.framesSinceRead += 1;
        return true;
      }
      this.queueBound = wire.bufferedAmount(conn);
      this.framesSinceRead = 0;
      if (this.queueBound <= shared.maxQueuedBytes) {
        this.queueBound += frame.byteLength + FRAME_OVERHEAD;
        this.framesSinceRead = 1;
        return true;
      }
    } else if (wire.bufferedAmount(conn) <= shared.maxQueuedBytes) {
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
    this.closeConn(code, reason);
  }

  private closeConn(code: number, reason?: string): void {
    const conn = this.conn;
    if (conn === undefined) return;
    const wire = this.shared.wire;
    if (wire !== undefined) wire.close(conn, code, reason);
    else (conn as WebSocket).close(code, reason);
  }

  /** Sends a heartbeat ping. */
  ping(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    const wire = this.shared.wire;
    if (wire !== undefined) wire.ping(conn);
    else (conn as WebSocket).ping();
  }

  /** Drops the connection without a closing handshake (dead peer). */
  terminate(code: number): void {
    this.closeCodeSent ??= code;
    const conn = this.conn;
    if (conn === undefined) {
      this.finish(code);
      return;
    }
    const wire = this.shared.wire;
    if (wire !== undefined) wire.terminate(conn);
    else (conn as WebSocket).terminate();
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
    if (this.rare?.expiryTimer !== undefined) clearTimeout(this.rare.expiryTimer);
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

/** A session's rarely set state, apart so that the sessions without it are smaller. */
interface RareState {
  /** The user an upgrade check attached (over the principal's). */
  user: string | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
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
