import { isChannelName } from '../protocol/channels.js';
import { CloseCode, type CloseCodeValue, closeCodeInfo } from '../protocol/close-codes.js';
import { WirehubError } from '../protocol/errors.js';
import { type Guard, parse, unknown } from '../protocol/guard.js';
import type {
  RtCancelResult,
  RtHistoryResult,
  RtPresenceResult,
  RtPublishResult,
  RtRefreshResult,
  RtServerFrame,
} from '../protocol/rt.js';
import { RT_SUBPROTOCOL } from '../protocol/rt-constants.js';
import {
  cancelResultGuard,
  historyResultGuard,
  presenceResultGuard,
  publishResultGuard,
  refreshResultGuard,
  rtServerFrameGuard,
  runResultGuard,
} from '../protocol/rt-guards.js';
import { type Backoff, backoffDelay, type ReconnectOptions, resolveBackoff } from './backoff.js';
import { Emitter, type Off } from './emitter.js';
import {
  errorFromClose,
  errorFromFrame,
  errorFromUpgrade,
  isFinalUpgradeStatus,
  malformed,
} from './errors.js';
import { Requests } from './requests.js';
import { RunHandle, type RunHost, type RunRequest } from './run-handle.js';
import {
  type Publication,
  type RecoveryInfo,
  type SendCallbacks,
  type StreamPosition,
  type SubscribeOptions,
  Subscription,
  type SubscriptionHost,
} from './subscription.js';
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

/** Someone in a channel, from `presence()`. */
export type PresenceMember = RtPresenceResult['members'][number];

const anything = unknown;

/**
 * The wirehub client for `/rt` (subprotocol `wirehub.v1`), for browsers and Node. One
 * WebSocket carries every channel; it reconnects by itself (exponential backoff with
 * jitter, not after 4001/4003/1008 and the like), renews every subscription with `since`
 * so nothing is missed, and follows task runs across reconnects. Every command returns a
 * Promise settled by its reply, or rejected with a {@link WirehubError} whose `code` comes
 * from the error catalog.
 *
 * @example
 * ```ts
 * import { WirehubClient } from 'wirehub/client';
 * import { WebSocket } from 'ws'; // Node 20 only; browsers have a global WebSocket
 *
 * const client = new WirehubClient({ url: 'ws://127.0.0.1:8080', WebSocket });
 * await client.connect();
 * await client.subscribe<string>('chat:lobby', (pub) => console.log(pub.from?.client, pub.data), {
 *   onJoin: (who) => console.log('joined', who.client),
 *   onRecovery: ({ recovered }) => { if (!recovered) console.log('missed some; reload'); },
 * });
 * await client.publish('chat:lobby', 'hello');
 * const run = await client.runTask({ project: 'demo', domain: 'development', task: 'countdown', version: 'v1', inputs: { n: 3 } });
 * for await (const update of run) console.log(update.status, update.message);
 * await client.close();
 * ```
 */
export class WirehubClient {
  private readonly options: WirehubClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly backoff: Backoff | undefined;
  private readonly events = new Emitter<ClientEvents>();
  private current: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  private token: TokenSource | undefined;
  private failures = 0;
  private opened = 0;
  private readonly requests = new Requests();
  private readonly subs = new Map<string, Subscription<unknown>>();
  private readonly runs = new Map<string, RunHandle>();
  private connectWaiters: { resolve(): void; reject(err: WirehubError): void }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pinging = false;
  private finalError: WirehubError | undefined;

  constructor(options: WirehubClientOptions = {}) {
    this.options = options;
    this.WebSocketImpl = resolveWebSocket(options.WebSocket);
    this.backoff = options.reconnect === false ? undefined : resolveBackoff(options.reconnect);
    this.token = options.token;
    // Fail now on a URL that can never work, not on the first connect.
    rtUrl(options.url);
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.current;
  }

  get isConnected(): boolean {
    return this.current === 'connected';
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): Off {
    return this.events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * Starts connecting (and reconnecting whenever the connection drops). Resolves once
   * connected; rejects if the client stops for good first (e.g. the server refuses the
   * token with 4001). The first command or subscription starts it too; commands made while
   * not connected wait for the connection (up to `commandTimeoutMs`).
   */
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
  private start(): void {
    if (this.current !== 'idle') return;
    this.connect().catch(() => {
      // The command that started it is told why.
    });
  }

  /**
   * Stops for good: closes the connection (1000), ends every subscription and run handle,
   * and rejects waiting commands with `client_closed`. Resolves once the socket is closed.
   */
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

  /**
   * Subscribes to a channel. `handler` gets each publication once, in order: live ones,
   * and after a reconnect the ones missed meanwhile (the subscription renews itself with
   * `since` = the last position it handled). When the server cannot replay the gap,
   * `onRecovery` (and the client's `recovery` event) says `recovered: false`. Resolves once
   * the server has confirmed (waiting for a connection if there is none yet).
   *
   * @example
   * ```ts
   * const sub = await client.subscribe<{ text: string }>('chat:lobby', (pub) => render(pub.data.text));
   * ```
   */
  async subscribe<T = unknown>(
    channel: string,
    handler: (publication: Publication<T>) => void,
    options: SubscribeOptions = {},
  ): Promise<Subscription<T>> {
    this.assertChannel(channel);
    for (let existing = this.subs.get(channel); existing; existing = this.subs.get(channel)) {
      if (existing.state !== 'closing') {
        throw new WirehubError('already_subscribed', `this client is already subscribed to ${channel}`);
      }
      await existing.closed;
    }
    this.assertOpen();
    return new Promise<Subscription<T>>((resolve, reject) => {
      const sub = new Subscription<T>(this.subscriptionHost, channel, handler, options, { resolve, reject });
      this.subs.set(channel, sub as unknown as Subscription<unknown>);
      if (this.current === 'connected') sub.attach();
      else this.start();
    });
  }

  /** The subscription to `channel`, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  /**
   * Publishes `data` (any JSON value) to a channel; resolves with its position on channels
   * with history.
   *
   * @example
   * ```ts
   * const { offset } = await client.publish('chat:lobby', { text: 'hi' });
   * ```
   */
  async publish(channel: string, data: unknown): Promise<RtPublishResult> {
    this.assertChannel(channel);
    if (data === undefined) throw new WirehubError('invalid_message', 'data is required');
    return this.command({ op: 'publish', channel, data }, publishResultGuard);
  }

  /**
   * Reads a channel's history: the newest `limit` publications, or with `since` the ones
   * after it (oldest first; page on with the last one's position). `complete: false` means
   * `since` is no longer covered.
   *
   * @example
   * ```ts
   * const { publications } = await client.history('chat:lobby', { limit: 50 });
   * ```
   */
  async history(
    channel: string,
    query: { since?: StreamPosition; limit?: number } = {},
  ): Promise<RtHistoryResult> {
    this.assertChannel(channel);
    const command: Record<string, unknown> = { op: 'history', channel };
    if (query.since) command.since = { epoch: query.since.epoch, offset: query.since.offset };
    if (query.limit !== undefined) command.limit = query.limit;
    return this.command(command, historyResultGuard);
  }

  /**
   * Who is in a channel now (namespaces with presence, e.g. `chat:*`).
   *
   * @example
   * ```ts
   * const members = await client.presence('chat:lobby'); // [{ client: 'c-…', connectedAt: 1764… }]
   * ```
   */
  async presence(channel: string): Promise<PresenceMember[]> {
    this.assertChannel(channel);
    const result = await this.command({ op: 'presence', channel }, presenceResultGuard);
    return result.members;
  }

  /** Round trip to the server; resolves with the time it took in ms. */
  async ping(): Promise<number> {
    const started = Date.now();
    await this.command({ op: 'ping' }, anything);
    return Date.now() - started;
  }

  /**
   * Hands the server a new token for this connection before the old one expires (else the
   * server closes with 4001). A fixed `token` option is replaced, so reconnects use the new one.
   * The new token's grants apply at once: channels it no longer allows are left by the server,
   * listed in `unsubscribed`, and their subscriptions end with a `forbidden` error (`onError`).
   *
   * @example
   * ```ts
   * const { expiresAt, unsubscribed } = await client.refresh(await fetchNewToken());
   * ```
   */
  async refresh(token: string): Promise<RtRefreshResult> {
    const result = await this.command({ op: 'refresh', token }, refreshResultGuard);
    if (typeof this.token !== 'function') this.token = token;
    for (const channel of result.unsubscribed) {
      this.subs
        .get(channel)
        ?.revoke(new WirehubError('forbidden', `the refreshed token does not grant ${channel}`, { channel }));
    }
    return result;
  }

  /**
   * Starts a task run and follows it. The handle yields every update in order (also across
   * reconnects: missed updates are read back from the run's channel), has the outcome in
   * `result`, and `cancel()`s. Rejects with `unknown_task`, `invalid_inputs` (see
   * `details`), `queue_full`, …
   *
   * @example
   * ```ts
   * const run = await client.runTask({ project: 'demo', domain: 'development', task: 'word-count', version: 'v1', inputs: { text: 'a b a' } });
   * const { status, outputs } = await run.result;
   * ```
   */
  runTask(request: RunRequest): Promise<RunHandle> {
    return new Promise<RunHandle>((resolve, reject) => {
      const command = {
        op: 'run',
        project: request.project,
        domain: request.domain,
        task: request.task,
        version: request.version,
        inputs: request.inputs ?? {},
      };
      this.request(command, runResultGuard, {
        // Made synchronously with the reply: the run's pushes may be in the very next frame.
        ok: (result) => {
          const handle =
            this.runs.get(result.run) ?? new RunHandle(this.runHost, result.run, result.url, 'push');
          this.runs.set(result.run, handle);
          resolve(handle);
        },
        fail: reject,
      });
    });
  }

  /**
   * Follows a run started elsewhere (another client, the REST API): every update from the
   * first, read from the run's channel, then live ones.
   */
  watchRun(runId: string): RunHandle {
    this.assertOpen();
    const existing = this.runs.get(runId);
    if (existing) return existing;
    const handle = new RunHandle(this.runHost, runId, undefined, 'channel');
    this.runs.set(runId, handle);
    if (this.current === 'connected') handle.connectionOpened();
    else this.start();
    return handle;
  }

  /** Aborts a run; its `ABORTED` update follows on its handle. */
  cancelRun(runId: string): Promise<RtCancelResult> {
    return this.command({ op: 'cancel', run: runId }, cancelResultGuard);
  }

  // ---- commands ---------------------------------------------------------------------------

  /** Sends a command (waiting for a connection if needed) and resolves with its checked result. */
  private command<R>(command: Record<string, unknown>, guard: Guard<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.request(command, guard, { ok: resolve, fail: reject });
    });
  }

  private request<R>(
    command: Record<string, unknown>,
    guard: Guard<R>,
    callbacks: SendCallbacks<R>,
    opts: { queue?: boolean; timeoutMs?: number } = {},
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

  // ---- connection -------------------------------------------------------------------------

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
    for (const sub of [...this.subs.values()]) sub.attach();
    for (const run of [...this.runs.values()]) run.connectionOpened();
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
    this.dispatch(parsed.data);
  }

  private dispatch(frame: RtServerFrame): void {
    switch (frame.op) {
      case 'reply':
        this.requests.reply(frame.id, frame.result);
        return;
      case 'error': {
        const err = errorFromFrame(frame);
        if (!this.requests.error(frame.id, err)) this.events.emit('error', err);
        return;
      }
      case 'message':
        this.subs.get(frame.channel)?.deliver(frame);
        return;
      case 'join':
      case 'leave':
        this.subs.get(frame.channel)?.presence(frame);
        return;
      case 'run':
        this.runs.get(frame.run)?.fromPush(frame);
        return;
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
    for (const sub of this.subs.values()) sub.detach();
    for (const run of this.runs.values()) run.connectionLost();
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
    for (const sub of [...this.subs.values()]) sub.end(err);
    this.subs.clear();
    for (const run of [...this.runs.values()]) run.end(err);
    this.runs.clear();
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(err);
    this.events.emit('closed', report ? { error: err } : {});
  }

  private startHeartbeat(socket: WebSocketLike): void {
    const every = this.options.pingIntervalMs ?? 25_000;
    if (every <= 0) return;
    const timeoutMs = this.options.pingTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(() => {
      if (this.pinging || socket !== this.socket) return;
      this.pinging = true;
      this.request(
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

  private assertOpen(): void {
    if (this.current === 'closed') throw this.finalError ?? new WirehubError('client_closed');
  }

  private assertChannel(channel: string): void {
    this.assertOpen();
    if (!isChannelName(channel))
      throw new WirehubError('bad_channel', `invalid channel name ${JSON.stringify(channel)}`);
  }

  // ---- what subscriptions and run handles see ---------------------------------------------

  private readonly subscriptionHost: SubscriptionHost = {
    connected: () => this.current === 'connected',
    send: (command, guard, callbacks) =>
      this.request(command, guard, callbacks, { queue: false, timeoutMs: 0 }),
    forget: (sub) => {
      if (this.subs.get(sub.channel) === (sub as unknown as Subscription<unknown>))
        this.subs.delete(sub.channel);
    },
    reportRecovery: (info) => this.events.emit('recovery', info),
    reportError: (err) => this.events.emit('error', err),
  };

  private readonly runHost: RunHost = {
    subscribe: (channel, handler, options) =>
      this.subscribe(
        channel,
        handler as (pub: Publication<unknown>) => void,
        options,
      ) as Promise<Subscription>,
    history: (channel, query) => this.history(channel, query),
    cancelRun: (runId) => this.cancelRun(runId),
    forgetRun: (handle) => {
      if (this.runs.get(handle.id) === handle) this.runs.delete(handle.id);
    },
    reportError: (err) => this.events.emit('error', err),
  };
}
