import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { EndpointContext, EndpointDefinition, UpgradeInfo } from '../endpoints/endpoint.js';
import { WirehubError } from '../protocol/index.js';
import { randomId } from '../util/ids.js';
import type { Logger } from '../util/logger.js';
import { rejectUpgrade } from './http-reject.js';
import type { ServerMetrics } from './metrics.js';
import type { EndpointRouter } from './router.js';
import type { WriteBatcher } from './write-batcher.js';
import { WsSession, type WsSessionHost } from './ws-session.js';

/**
 * A check every upgrade passes before its endpoint sees it (auth, origin, limits). Throw a
 * `WirehubError` to refuse with its HTTP status; return a user id to attach one.
 */
export type UpgradeCheck = (
  info: UpgradeInfo,
  endpoint: EndpointDefinition<unknown>,
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
  /** Shared by every session this gate creates. */
  private readonly host: WsSessionHost;

  constructor(private readonly o: UpgradeGateOptions) {
    this.host = {
      batcher: o.batcher,
      log: o.log,
      maxQueuedBytes: o.maxQueuedBytes,
      sessionClosed: (s, code) => {
        o.sessions.delete(s);
        s.stats.open -= 1;
        s.stats.countClose(code);
        o.log.debug({ session: s.id, endpoint: s.endpoint, code }, 'connection closed');
        o.onSessionClosed(s, code);
      },
    };
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    this.admit(req, socket, head).catch((err: unknown) => {
      const error = err instanceof WirehubError ? err : new WirehubError('internal');
      if (!(err instanceof WirehubError)) this.o.log.error({ err }, 'upgrade failed');
      this.o.metrics.countRejection(error.status);
      rejectUpgrade(socket, error);
    });
  }

  private async admit(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.o.isDraining())
      throw new WirehubError('not_ready', 'this node is shutting down; reconnect elsewhere');
    const url = new URL(req.url ?? '/', 'http://wirehub.invalid');
    const match = this.o.router.match(url.pathname);
    if (!match) throw new WirehubError('not_found', `no WebSocket endpoint at ${url.pathname}`);
    checkHandshake(req);
    const info: UpgradeInfo = {
      path: url.pathname,
      params: match.params,
      query: url.searchParams,
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress ?? '',
    };
    let user: string | undefined;
    for (const check of this.o.checks) {
      const result = await check(info, match.endpoint);
      if (result?.user !== undefined) user = result.user;
    }
    const endpoint = match.endpoint;
    const state = endpoint.accept ? await endpoint.accept(info, this.o.context) : undefined;
    if (socket.destroyed) return;

    const session = this.createSession(endpoint, info.remoteAddress, user, socket);
    const onEarlyClose = () => session.abandon();
    socket.once('close', onEarlyClose);
    try {
      session.setHandlers(await endpoint.open(session, this.o.context, state));
    } catch (err) {
      session.abandon();
      throw err;
    }
    if (socket.destroyed) return;
    this.o.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', onEarlyClose);
      socket.off('error', destroyOnError);
      this.o.log.debug(
        { session: session.id, endpoint: endpoint.name, remote: info.remoteAddress },
        'connected',
      );
      session.attach(ws);
    });
  }

  /** Creates and registers the session (no per-session closures: see WsSessionHost). */
  private createSession(
    endpoint: EndpointDefinition<unknown>,
    remoteAddress: string,
    user: string | undefined,
    socket: Duplex,
  ): WsSession {
    const stats = this.o.metrics.endpoint(endpoint.name);
    const session = new WsSession({
      id: randomId('c'),
      endpoint: endpoint.name,
      remoteAddress,
      user,
      socket,
      acceptsBinary: endpoint.binary === true,
      stats,
      host: this.host,
    });
    this.o.sessions.add(session);
    stats.open += 1;
    stats.accepted += 1;
    return session;
  }
}

/** Until ws owns the socket (it has its own error handling), a socket error just ends it. */
function destroyOnError(this: Duplex): void {
  this.destroy();
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
