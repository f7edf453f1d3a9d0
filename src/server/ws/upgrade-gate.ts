import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type {
  ConnectionHandlers,
  EndpointContext,
  EndpointDefinition,
  UpgradeInfo,
} from '../../endpoints/endpoint.js';
import type { Principal } from '../../hub/principal.js';
import { WirehubError } from '../../protocol/index.js';
import { randomId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import { rejectUpgrade } from '../http/http-reject.js';
import type { ServerMetrics } from '../metrics.js';
import type { EndpointRouter } from '../router.js';
import type { ProxyTrust } from '../security/client-ip.js';
import { BEARER_CHALLENGE } from '../security/http-guard.js';
import type { ResolvedLimits } from '../security/limits.js';
import { MessageLimiter } from '../security/message-limiter.js';
import { type Admission, TOKEN_QUERY_PARAM, type UpgradeSecurity } from '../security/upgrade-security.js';
import type { SessionWire } from './session-wire.js';
import type { WriteBatcher } from './write-batcher.js';
import { quietSocketEnd } from './ws-quiet-end.js';
import { type WsEndpointShared, WsSession } from './ws-session.js';

/**
 * A check every upgrade passes after the built-in security (limits, origin, auth, endpoint
 * permission) and before its endpoint sees it. It gets the authenticated principal. Throw a
 * `WirehubError` to refuse with its HTTP status; return a user id to attach one.
 */
export type UpgradeCheck = (
  info: UpgradeInfo,
  endpoint: EndpointDefinition<unknown>,
  principal: Principal,
) => undefined | { user?: string } | Promise<undefined | { user?: string }>;

export interface UpgradeGateOptions {
  router: EndpointRouter;
  wss: WebSocketServer;
  context: EndpointContext;
  metrics: ServerMetrics;
  log: Logger;
  batcher: WriteBatcher;
  sessions: Set<WsSession>;
  maxQueuedBytes: number;
  checks: UpgradeCheck[];
  security: UpgradeSecurity;
  proxyTrust: ProxyTrust;
  limits: ResolvedLimits;
  isDraining(): boolean;
  onSessionClosed(session: WsSession, code: number): void;
}

const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The one door every WebSocket upgrade goes through: draining, routing, the handshake's
 * shape, the pluggable checks, the endpoint's own `accept`, then `open` (before the 101, so
 * the client's subscriptions exist when it sees the socket open), then the handshake.
 */
export class UpgradeGate {
  private readonly perEndpoint = new Map<EndpointDefinition<unknown>, WsEndpointShared>();
  /** The wire of a transport with its own connections (`useWire`); none over `ws`. */
  private wire: SessionWire | undefined;

  constructor(private readonly o: UpgradeGateOptions) {}

  /**
   * For a transport that brings its own connections (Bun's native server): the one wire its
   * sessions write through (`WsSession.attachWire`). Set before the first upgrade.
   */
  useWire(wire: SessionWire): void {
    if (this.perEndpoint.size > 0) throw new Error('the wire is set before the first upgrade');
    this.wire = wire;
  }

  /**
   * Runs synchronously as far as every step does (routing, the in-memory limits, no or API-key
   * auth, an endpoint without `accept` and with a synchronous `open`): then the handshake
   * completes in this call, with no promise made. The first step that returns a promise
   * makes the rest wait on it.
   */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    try {
      const prepared = this.prepare(req, socket, undefined);
      if (isPromise(prepared)) {
        prepared
          .then((admitted) => (admitted ? this.openSession(req, socket, head, admitted) : undefined))
          .catch((err: unknown) => this.refuse(socket, err));
      } else if (prepared) {
        const opened = this.openSession(req, socket, head, prepared);
        if (opened) opened.catch((err: unknown) => this.refuse(socket, err));
      }
    } catch (err) {
      this.refuse(socket, err);
    }
  }

  private refuse(socket: Duplex, err: unknown): void {
    const error = err instanceof WirehubError ? err : new WirehubError('internal');
    if (!(err instanceof WirehubError)) this.o.log.error({ err }, 'upgrade failed');
    this.o.metrics.countRejection(error.status);
    rejectUpgrade(socket, error, refusalHeaders(error));
  }

  /**
   * For a transport that completes the handshake itself (Bun's native server): the same door
   * (draining, routing, handshake shape, security, checks, `accept`, then `open`), resolving
   * with the opened session and the subprotocol to answer, or `undefined` when the client left
   * meanwhile. Rejects with a `WirehubError` (counted) to refuse with its status;
   * `refusalHeaders(err)` gives the headers to send with it.
   */
  async admitNative(
    req: IncomingMessage,
    isGone: () => boolean,
  ): Promise<{ session: WsSession; protocol: string | undefined } | undefined> {
    try {
      const admitted = await this.prepare(req, undefined, isGone);
      if (!admitted) return undefined;
      const { session, endpoint, state } = admitted;
      try {
        session.setHandlers(await endpoint.open(session, this.o.context, state));
      } catch (err) {
        session.abandon();
        throw err;
      }
      if (isGone()) {
        session.abandon();
        return undefined;
      }
      return { session, protocol: chooseProtocol(req, endpoint) };
    } catch (err) {
      const error = err instanceof WirehubError ? err : new WirehubError('internal');
      if (!(err instanceof WirehubError)) this.o.log.error({ err }, 'upgrade failed');
      this.o.metrics.countRejection(error.status);
      throw error;
    }
  }

  /**
   * Everything up to the session, shared by both transports; undefined when the client left
   * (`socket` destroyed, or `isGone()` for a transport without one). A promise only when a
   * step returned one.
   */
  private prepare(
    req: IncomingMessage,
    socket: Duplex | undefined,
    isGone: (() => boolean) | undefined,
  ): Prepared | undefined | Promise<Prepared | undefined> {
    if (this.o.isDraining())
      throw new WirehubError('not_ready', 'this node is shutting down; reconnect elsewhere');
    // Route on the raw path: URL parsing would resolve `..` segments before the endpoint
    // could refuse them.
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const path = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
    const match = this.o.router.match(path);
    if (!match) throw new WirehubError('not_found', `no WebSocket endpoint at ${path}`);
    checkHandshake(req);
    const request = {
      path,
      params: match.params,
      query,
      headers: req.headers,
      remoteAddress: this.o.proxyTrust.clientIp(req),
    };
    forgetPeername(req.socket);
    const endpoint = match.endpoint;
    const admission = this.o.security.admit(request, endpoint, this.o.proxyTrust.host(req));
    if (isPromise(admission))
      return admission.then((a) => this.admitted(a, request, endpoint, socket, isGone));
    return this.admitted(admission, request, endpoint, socket, isGone);
  }

  /** After the security checks: the pluggable checks, `accept`, the session. */
  private admitted(
    admission: Admission,
    request: Omit<UpgradeInfo, 'principal'>,
    endpoint: EndpointDefinition<unknown>,
    socket: Duplex | undefined,
    isGone: (() => boolean) | undefined,
  ): Prepared | undefined | Promise<Prepared | undefined> {
    const info: UpgradeInfo = {
      path: request.path,
      params: request.params,
      query: request.query,
      headers: request.headers,
      remoteAddress: request.remoteAddress,
      principal: admission.principal,
    };
    let result: Prepared | undefined | Promise<Prepared | undefined>;
    try {
      // The token has done its job: endpoints and their logs never see it.
      if (info.query.size > 0) info.query.delete(TOKEN_QUERY_PARAM);
      result =
        this.o.checks.length > 0 || endpoint.accept
          ? this.checkAndAccept(admission, info, endpoint, socket, isGone)
          : this.createIfThere(admission, info, endpoint, undefined, undefined, socket, isGone);
    } catch (err) {
      admission.release();
      throw err;
    }
    if (!isPromise(result)) return result;
    return result.catch((err: unknown) => {
      admission.release();
      throw err;
    });
  }

  private async checkAndAccept(
    admission: Admission,
    info: UpgradeInfo,
    endpoint: EndpointDefinition<unknown>,
    socket: Duplex | undefined,
    isGone: (() => boolean) | undefined,
  ): Promise<Prepared | undefined> {
    let user: string | undefined;
    for (const check of this.o.checks) {
      const result = await check(info, endpoint, admission.principal);
      if (result?.user !== undefined) user = result.user;
    }
    const state = endpoint.accept ? await endpoint.accept(info, this.o.context) : undefined;
    return this.createIfThere(admission, info, endpoint, user, state, socket, isGone);
  }

  /** The session, unless the client left meanwhile (then its slots go back). */
  private createIfThere(
    admission: Admission,
    info: UpgradeInfo,
    endpoint: EndpointDefinition<unknown>,
    user: string | undefined,
    state: unknown,
    socket: Duplex | undefined,
    isGone: (() => boolean) | undefined,
  ): Prepared | undefined {
    if (socket ? socket.destroyed : isGone?.()) {
      admission.release();
      return undefined;
    }
    const session = this.createSession(socket, info, endpoint, user, admission);
    return { session, endpoint, info, state };
  }

  private createSession(
    socket: Duplex | undefined,
    info: UpgradeInfo,
    endpoint: EndpointDefinition<unknown>,
    user: string | undefined,
    admission: Admission,
  ): WsSession {
    const limits = this.o.limits;
    const shared = this.shared(endpoint);
    const session = new WsSession(
      {
        id: randomId('c'),
        remoteAddress: info.remoteAddress,
        user,
        principal: admission.principal,
        limiter:
          limits.messageRate > 0
            ? new MessageLimiter(limits.messageRate, limits.messageBurst, limits.messageStrikes)
            : undefined,
        socket,
        // From here the session holds the slots: a key, not the admission object.
        ipSlot: admission.handOver(),
      },
      shared,
    );
    this.o.sessions.add(session);
    shared.stats.open += 1;
    shared.stats.accepted += 1;
    return session;
  }

  /** What the sessions of one endpoint share, made on its first connection. */
  private shared(endpoint: EndpointDefinition<unknown>): WsEndpointShared {
    let shared = this.perEndpoint.get(endpoint);
    if (shared) return shared;
    const stats = this.o.metrics.endpoint(endpoint.name);
    const log = this.o.log;
    shared = {
      endpoint: endpoint.name,
      errorFrame: endpoint.errorFrame?.bind(endpoint),
      maxQueuedBytes: this.o.maxQueuedBytes,
      acceptsBinary: endpoint.binary === true,
      stats,
      batcher: this.o.batcher,
      wire: this.wire,
      log,
      onClosed: (s, code) => {
        this.o.security.releaseSlot(s.ipSlot);
        this.o.sessions.delete(s);
        stats.open -= 1;
        stats.countClose(code);
        if (debugging(log)) log.debug({ session: s.id, endpoint: s.endpoint, code }, 'connection closed');
        this.o.onSessionClosed(s, code);
      },
    };
    this.perEndpoint.set(endpoint, shared);
    return shared;
  }

  /**
   * Runs the endpoint's `open` (before the 101), then completes the handshake. A promise only
   * when `open` returned one.
   */
  private openSession(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    admitted: Prepared,
  ): Promise<void> | undefined {
    const { session, endpoint, state } = admitted;
    let handlers: ConnectionHandlers | Promise<ConnectionHandlers>;
    try {
      handlers = endpoint.open(session, this.o.context, state);
    } catch (err) {
      session.abandon();
      throw err;
    }
    if (!isPromise(handlers)) {
      session.setHandlers(handlers);
      this.upgrade(req, socket, head, admitted);
      return undefined;
    }
    // The socket may close while `open` runs: the session is then abandoned.
    // `on` and `off`, not `once`: once wraps the listener in two more objects per connection.
    const onEarlyClose = () => session.abandon();
    socket.on('close', onEarlyClose);
    return handlers.then(
      (h) => {
        socket.off('close', onEarlyClose);
        session.setHandlers(h);
        if (socket.destroyed) session.abandon();
        else this.upgrade(req, socket, head, admitted);
      },
      (err: unknown) => {
        socket.off('close', onEarlyClose);
        session.abandon();
        throw err;
      },
    );
  }

  /** The handshake: `ws` answers 101 and takes the socket (synchronously, no verifyClient). */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, admitted: Prepared): void {
    (req as UpgradingRequest)[ADMITTED] = admitted;
    try {
      this.o.wss.handleUpgrade(req, socket, head, onUpgraded);
    } finally {
      // ws destroys a socket that is no longer readable and writable instead of answering,
      // and does not call back: the session never opened.
      if ((req as UpgradingRequest)[ADMITTED] !== undefined) {
        (req as UpgradingRequest)[ADMITTED] = undefined;
        admitted.session.abandon();
      }
    }
  }
}

type Prepared = {
  session: WsSession;
  endpoint: EndpointDefinition<unknown>;
  info: UpgradeInfo;
  state: unknown;
};

/**
 * The upgrading request carries its admitted session to `onUpgraded`, which `ws` calls with
 * it: one callback for all upgrades instead of a closure per connection.
 */
const ADMITTED = Symbol('wirehub.admitted');
type UpgradingRequest = IncomingMessage & { [ADMITTED]?: Prepared | undefined };

function onUpgraded(ws: WebSocket, req: IncomingMessage): void {
  const admitted = (req as UpgradingRequest)[ADMITTED];
  if (admitted === undefined) return;
  (req as UpgradingRequest)[ADMITTED] = undefined;
  const { session, info } = admitted;
  const socket = req.socket;
  socket.off('error', destroyOnError);
  quietSocketEnd(socket);
  const log = session.log;
  if (debugging(log))
    log.debug({ session: session.id, endpoint: session.endpoint, remote: info.remoteAddress }, 'connected');
  session.attach(ws);
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/**
 * Whether debug lines are written: pino's `isLevelEnabled` when the logger has it. Connect and
 * close lines are skipped, not just muted, so a connection does not build their objects.
 */
function debugging(log: Logger): boolean {
  const pino = log as Logger & { isLevelEnabled?: (level: string) => boolean };
  return pino.isLevelEnabled ? pino.isLevelEnabled('debug') : true;
}

/**
 * Reading `socket.remoteAddress` makes Node cache an `{ address, family, port }` object on the
 * socket (`_peername`) for the socket's life: 56 bytes per idle connection (idle census) that
 * nothing reads again, as the session keeps the address string. Dropped here; a later read
 * asks the kernel again (until the socket closes).
 */
function forgetPeername(socket: unknown): void {
  const s = socket as { _peername?: unknown };
  if (s._peername !== undefined) s._peername = undefined;
}

/** Until ws owns the socket (it has its own error handling), a socket error just ends it. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** The first subprotocol the client offers that its endpoint speaks (as the `ws` server picks). */
function chooseProtocol(req: IncomingMessage, endpoint: EndpointDefinition<unknown>): string | undefined {
  const offered = req.headers['sec-websocket-protocol'];
  if (typeof offered !== 'string') return undefined;
  const spoken = endpoint.protocols ?? [];
  return offered
    .split(',')
    .map((p) => p.trim())
    .find((p) => spoken.includes(p));
}

/** Headers that tell a refused client what to do: how to authenticate, when to retry. */
export function refusalHeaders(err: WirehubError): Record<string, string> {
  if (err.code === 'unauthorized') return { 'WWW-Authenticate': BEARER_CHALLENGE };
  const retryAfterMs = (err.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (err.status === 429 && typeof retryAfterMs === 'number') {
    return { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  }
  return {};
}

/** The checks `ws` would make, done first so that a refused handshake never leaks a session. */
function checkHandshake(req: IncomingMessage): void {
  const upgrade = req.headers.upgrade?.toLowerCase();
  const key = req.headers['sec-websocket-key'];
  const version = req.headers['sec-websocket-version'];
  if (req.method !== 'GET' || upgrade !== 'websocket' || typeof key !== 'string' || !WS_KEY.test(key)) {
    throw new WirehubError('bad_request', 'not a valid WebSocket handshake');
  }
  if (version !== '13' && version !== '8') {
    throw new WirehubError('bad_request', 'unsupported WebSocket version; use 13');
  }
}
