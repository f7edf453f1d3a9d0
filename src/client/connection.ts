import { CloseCode, type CloseCodeValue, closeCodeInfo } from '../protocol/close-codes.js';
import { WirehubError } from '../protocol/errors.js';
import { type Guard, parse, unknown } from '../protocol/guard.js';
import type { RtServerFrame } from '../protocol/rt.js';
import { RT_SUBPROTOCOL } from '../protocol/rt-constants.js';
import { rtServerFrameGuard } from '../protocol/rt-guards.js';
import { type Backoff, backoffDelay, type ReconnectOptions, resolveBackoff } from './backoff.js';
import type { Emitter } from './emitter.js';
import {
  errorFromClose,
  errorFromFrame,
  errorFromUpgrade,
  isFinalUpgradeStatus,
  malformed,
} from './errors.js';
import { Requests } from './requests.js';
import type { RecoveryInfo, SendCallbacks } from './subscription.js';
import {
  type CloseEventLike,
  type MessageEventLike,
  resolveWebSocket,
  rtUrl,
  upgradeStatusOf,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket.js';

/** Where the client gets its token: a fixed string, or a function asked before every connect. */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export interface WirehubClientOptions {
  /**
   * The server: `ws(s)://host:port`, `http(s)://host:port` or the full `/rt` URL. In a
   * browser page it defaults to the page's own origin.
   */
  url?: string;
  /** The WebSocket class. Browsers have a global one; in Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /**
   * Credentials when the server has auth on, sent as `?access_token=` on each connect. A
   * function is called before every connect (return a fresh token there).
   */
  token?: TokenSource;
  /** Reconnect with exponential backoff and jitter (the default), or `false` to stop at the first drop. */
  reconnect?: ReconnectOptions | false;
  /** A command without an answer after this long fails with `timeout` (ms, default 15 000; 0 = never). */
  commandTimeoutMs?: number;
  /** Ping the server this often to notice a dead connection (ms, default 25 000; 0 = off). */
  pingIntervalMs?: number;
  /** A ping without an answer after this long drops the connection and reconnects (ms, default 10 000). */
  pingTimeoutMs?: number;
}

/**
 * `idle` (not started) → `connecting` → `connected` ⇄ `reconnecting` → `closed` (for good:
 * `close()` was called, or the server said not to come back, e.g. 4001).
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** The events of a {@link WirehubClient} and what their listeners get. */
export interface ClientEvents {
  /** The connection state changed. */
  state: ConnectionState;
  /** A connection is open (and subscriptions are being renewed on it). */
  connected: { reconnect: boolean };
  /** A connection ended (or an attempt failed) and the client will try again. */
  disconnected: { code: number; reason: string; error: WirehubError; reconnectInMs: number };
  /** The client stopped for good; `error` says why (absent after `close()`). */
  closed: { error?: WirehubError };
  /** A subscription was renewed after a reconnect: did it get what it missed? */
  recovery: RecoveryInfo;
  /** Something went wrong that no pending command owns (a malformed frame, a refused resubscribe, …). */
  error: WirehubError;
}

/** A push from the server: what the connection hands to its client (replies settle commands). */
export type RtPush = Exclude<RtServerFrame, { op: 'reply' | 'error' }>;

/** What a {@link Connection} tells the client that owns it. @internal */
export interface ConnectionHost {
  /** A connection opened: renew subscriptions and runs (before the queued commands go out). */
  opened(): void;
  /** A push from the server, checked against the protocol. */
  push(frame: RtPush): void;
  /** The connection dropped (its commands in flight failed already): wait for the next one. */
  lost(): void;
  /** The client stopped for good: end everything with `err`. */
  stopped(err: WirehubError): void;
}

/** How a command is sent: queued until connected (default), and with its own timeout. */
export interface SendOptions {
  /** Wait for a connection when there is none (default); false fails it with `disconnected`. */
  queue?: boolean;
  /** Overrides `commandTimeoutMs`; 0 waits for the answer as long as the connection lasts. */
  timeoutMs?: number;
}

const anything = unknown;

/**
 * The client's connection to `/rt`: one socket at a time, its lifecycle (token, open, frames,
 * close), reconnecting with backoff (or stopping for good when the server says not to come
 * back), heartbeats, and the commands (queued while offline, in flight, timed out). It emits
 * the connection's events (`state`, `connected`, `disconnected`, `closed`, `error`) and hands
 * pushes to its {@link ConnectionHost}, the `WirehubClient` façade.
 *
 * @example
 * ```ts
 * const connection = new Connection(options, events, host);
 * await connection.connect();
 * connection.send({ op: 'ping' }, anything, { ok: () => {}, fail: console.error });
 * ```
 */
export class Connection {
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly backoff: Backoff | undefined;
  private current: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  private token: TokenSource | undefined;
  private failures = 0;
  private opened = 0;
  private readonly requests = new Requests();
  private connectWaiters: { resolve(): void; reject(err: WirehubError): void }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pinging = false;
  private finalError: WirehubError | undefined;

  constructor(
    private readonly options: WirehubClientOptions,
    private readonly events: Emitter<ClientEvents>,
    private readonly host: ConnectionHost,
  ) {
    this.WebSocketImpl = resolveWebSocket(options.WebSocket);
    this.backoff = options.reconnect === false ? undefined : resolveBackoff(options.reconnect);
    this.token = options.token;
    // Fail now on a URL that can never work, not on the first connect.
    rtUrl(options.url);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** A `refresh` handed the server a new token: a fixed token is replaced for the next connects. */
  tokenRefreshed(token: string): void {
    if (typeof this.token !== 'function') this.token = token;
  }

  /** Throws why the client stopped, once it has. */
  assertOpen(): void {
    if (this.current === 'closed') throw this.finalError ?? new WirehubError('client_closed');
  }

  /** See `WirehubClient.connect`. */
  connect(): Promise<void> {
    if (this.current === 'closed') {
      return Promise.reject(this.finalError ?? new WirehubError('client_closed'));
    }
    if (this.current === 'connected') return Promise.resolve();
    const connected = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.current === 'idle') {
      this.setState('connecting');
      void this.open();
    }
    return connected;
  }

  /** A first command or subscription connects an idle client. */
  start(): void {
    if (this.current !== 'idle') return;
    this.connect().catch(() => {
      // The command that started it is told why.
    });
  }

  /** See `WirehubClient.close`. */
  close(): Promise<void> {
    if (this.current === 'closed') return Promise.resolve();
    const socket = this.socket;
    this.socket = undefined;
    this.stop(new WirehubError('client_closed'), false);
    if (!socket) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const fallback = setTimeout(() => {
        (socket as { terminate?: () => void }).terminate?.();
        resolve();
      }, 3_000);
      const done = () => {
        clearTimeout(fallback);
        resolve();
      };
      socket.onclose = done;
      socket.onerror = () => {};
      socket.onmessage = null;
      socket.onopen = null;
      try {
        socket.close(CloseCode.Normal, 'client closed');
      } catch {
        done();
      }
    });
  }

  /** Sends a command (waiting for a connection if needed) and resolves with its checked result. */
  command<R>(command: Record<string, unknown>, guard: Guard<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.send(command, guard, { ok: resolve, fail: reject });
    });
  }

  /** Sends a command; `callbacks` get its checked result or its error, exactly once. */
  send<R>(
    command: Record<string, unknown>,
    guard: Guard<R>,
    callbacks: SendCallbacks<R>,
    opts: SendOptions = {},
  ): void {
    const timeoutMs = opts.timeoutMs ?? this.options.commandTimeoutMs ?? 15_000;
    if (this.current === 'closed') {
      const req = this.requests.create(command, guard, callbacks, 0);
      this.requests.settle(req, this.finalError ?? new WirehubError('client_closed'));
      return;
    }
    const req = this.requests.create(command, guard, callbacks, timeoutMs);
    if (this.current === 'connected') this.requests.transmit(req, this.socket);
    else if (opts.queue ?? true) {
      this.requests.enqueue(req);
      this.start();
    } else this.requests.settle(req, new WirehubError('disconnected', 'not connected'));
  }

  // ---- the socket ------------------------------------------------------------------------

  private async open(): Promise<void> {
    let token: string | undefined;
    try {
      token = typeof this.token === 'function' ? await this.token() : this.token;
    } catch (err) {
      if (this.current === 'closed') return;
      this.events.emit('error', new WirehubError('unauthorized', `the token source failed: ${String(err)}`));
      this.retryOrStop(
        CloseCode.Abnormal,
        'no token',
        new WirehubError('unauthorized', 'the token source failed'),
        false,
      );
      return;
    }
    if (this.current === 'closed') return;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(rtUrl(this.options.url, token), RT_SUBPROTOCOL);
    } catch (err) {
      this.stop(new WirehubError('bad_request', `cannot open a WebSocket: ${String(err)}`), true);
      return;
    }
    this.socket = socket;
    let upgradeStatus: number | undefined;
    socket.onopen = () => this.onOpen(socket);
    socket.onmessage = (event: MessageEventLike) => this.onMessage(socket, event.data);
    socket.onerror = (event: unknown) => {
      upgradeStatus ??= upgradeStatusOf(event);
    };
    socket.onclose = (event: CloseEventLike) => this.onClose(socket, event.code, event.reason, upgradeStatus);
  }

  private onOpen(socket: WebSocketLike): void {
    if (socket !== this.socket) return;
    this.failures = 0;
    this.opened += 1;
    this.setState('connected');
    this.startHeartbeat(socket);
    // Subscriptions first, so commands queued while offline run after them, in order.
    this.host.opened();
    this.requests.flush(this.socket);
    this.events.emit('connected', { reconnect: this.opened > 1 });
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
  }

  private onMessage(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.socket) return;
    if (typeof data !== 'string') {
      this.events.emit('error', new WirehubError('invalid_message', '/rt frames are text; got a binary one'));
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      this.events.emit('error', new WirehubError('invalid_json', 'the server sent a frame that is not JSON'));
      return;
    }
    const parsed = parse(rtServerFrameGuard, raw);
    if (!parsed.success) {
      this.events.emit('error', malformed('a frame', parsed.issues));
      return;
    }
    const frame = parsed.data;
    switch (frame.op) {
      case 'reply':
        this.requests.reply(frame.id, frame.result);
        return;
      case 'error': {
        const err = errorFromFrame(frame);
        if (!this.requests.error(frame.id, err)) this.events.emit('error', err);
        return;
      }
      default:
        this.host.push(frame);
    }
  }

  private onClose(
    socket: WebSocketLike,
    code: number,
    reason: string,
    upgradeStatus: number | undefined,
  ): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.stopHeartbeat();
    const opened = this.current === 'connected';
    const lost = new WirehubError(
      'disconnected',
      `the connection closed (${code}${reason ? `: ${reason}` : ''})`,
      {
        closeCode: code,
        reason,
      },
    );
    this.requests.failInflight(lost);
    this.host.lost();
    if (this.current === 'closed') return;

    let why: WirehubError;
    let final = false;
    if (upgradeStatus !== undefined) {
      why = errorFromUpgrade(upgradeStatus);
      // 401 with a token function: the next call may bring a valid token.
      final =
        isFinalUpgradeStatus(upgradeStatus) || (upgradeStatus === 401 && typeof this.token !== 'function');
    } else {
      why = errorFromClose(code, reason);
      final = closeCodeInfo[code as CloseCodeValue]?.reconnect === false;
    }
    this.retryOrStop(code, reason, why, final, opened);
  }

  // ---- reconnecting ----------------------------------------------------------------------

  private retryOrStop(code: number, reason: string, why: WirehubError, final: boolean, opened = false): void {
    this.failures = opened ? 1 : this.failures + 1;
    const backoff = this.backoff;
    if (final || !backoff || this.failures > backoff.maxAttempts) {
      this.stop(why, true);
      return;
    }
    const delay = backoffDelay(this.failures, backoff);
    this.setState('reconnecting');
    this.events.emit('disconnected', { code, reason, error: why, reconnectInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, delay);
  }

  /** Stops for good: everything waiting is told why. */
  private stop(err: WirehubError, report: boolean): void {
    if (this.current === 'closed') return;
    this.finalError = err;
    this.setState('closed');
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopHeartbeat();
    this.requests.failAll(err);
    this.host.stopped(err);
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(err);
    this.events.emit('closed', report ? { error: err } : {});
  }

  // ---- heartbeats ------------------------------------------------------------------------

  private startHeartbeat(socket: WebSocketLike): void {
    const every = this.options.pingIntervalMs ?? 25_000;
    if (every <= 0) return;
    const timeoutMs = this.options.pingTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(() => {
      if (this.pinging || socket !== this.socket) return;
      this.pinging = true;
      this.send(
        { op: 'ping' },
        anything,
        {
          ok: () => {
            this.pinging = false;
          },
          fail: (err) => {
            this.pinging = false;
            if (err.code === 'timeout' && socket === this.socket) this.abandon(socket, 'no answer to ping');
          },
        },
        { queue: false, timeoutMs },
      );
    }, every);
  }

  private stopHeartbeat(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.pinging = false;
  }

  /** Gives up on a silent connection at once (its close handshake could take long) and reconnects. */
  private abandon(socket: WebSocketLike, reason: string): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = () => {};
    const terminate = (socket as { terminate?: () => void }).terminate;
    try {
      if (terminate) terminate.call(socket);
      else socket.close(4000, reason);
    } catch {
      // already closing
    }
    this.onClose(socket, CloseCode.Abnormal, reason, undefined);
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.events.emit('state', state);
  }
}
