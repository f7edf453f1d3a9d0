import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { WebSocketServer } from 'ws';
import { builtinEndpoints } from '../endpoints/builtin.js';
import type { EndpointContext, EndpointDefinition } from '../endpoints/endpoint.js';
import { taskRunnerEndpoint } from '../endpoints/task-runner.js';
import type { LimitStore } from '../engine/limits.js';
import type { StoreHealth } from '../engine/store-health.js';
import type { Hub } from '../hub/hub.js';
import { PermissionPolicy } from '../hub/permissions.js';
import { CloseCode } from '../protocol/index.js';
import { randomId } from '../util/ids.js';
import type { Logger } from '../util/logger.js';
import { LocalAdminView } from './admin/admin-view.js';
import { ClusterAdmin } from './admin/cluster-admin.js';
import type { BackendAssembler, ServerTasks, WorkerRole } from './backends.js';
import type { BunTransport } from './bun/bun-transport.js';
import { closeSpread } from './drain.js';
import { assertNoBuiltinRoute, type BuiltinRoute, builtinRoutes } from './http/builtin-routes.js';
import { errorAnsweringOptions, installErrorHandling, NODE_HTTP_OPTIONS } from './http/http-errors.js';
import { installOpsRoutes, installUpgradeRequiredRoutes } from './http/http-routes.js';
import { installJsonBodyParser } from './http/json-body.js';
import { installApiDocs } from './http/openapi/install-docs.js';
import { installRouteConflictCheck } from './http/route-conflicts.js';
import { installAdminRoutes } from './http/routes/admin.js';
import { installChannelRoutes } from './http/routes/channels.js';
import { installRunRoutes } from './http/routes/runs.js';
import { installTaskRoutes } from './http/routes/tasks.js';
import { installWebRoutes } from './http/routes/web.js';
import { LastResort } from './last-resort.js';
import { type ListenAddress, listenAddress } from './listen-address.js';
import { ServerMetrics } from './metrics.js';
import { type ResolvedServerOptions, resolveServerOptions, type ServerOptions } from './options.js';
import { createPinoLogger } from './pino-logger.js';
import { EndpointRouter } from './router.js';
import { Authenticator } from './security/authenticator.js';
import { ProxyTrust } from './security/client-ip.js';
import { type GuardCheck, installHttpGuard, makeGuard } from './security/http-guard.js';
import { OriginPolicy } from './security/origin-policy.js';
import { installSecurityHeaders } from './security/security-headers.js';
import { isLoopbackHost, publicBindProblem } from './security/unauthenticated-access.js';
import { UpgradeSecurity } from './security/upgrade-security.js';
import { Heartbeat } from './ws/heartbeat.js';
import { type UpgradeCheck, UpgradeGate } from './ws/upgrade-gate.js';
import { WriteBatcher } from './ws/write-batcher.js';
import { quietReceiverEnd } from './ws/ws-quiet-end.js';
import { SessionWebSocket, type WsSession } from './ws/ws-session.js';

/** Probes and scrapes would drown a debug log: every other request is logged. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** One line per finished request at `debug`: method, URL, status and time. */
function logRequests(http: FastifyInstance): void {
  http.addHook('onResponse', async (req, reply) => {
    if (QUIET_PATHS.has(req.url)) return;
    req.log.debug(
      { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
}

/** The header that says which worker process (`--workers`) answered a request or an upgrade. */
export const WORKER_HEADER = 'x-wirehub-worker';

/** Every response and every upgrade of a `--workers` worker names it (for operators and tests). */
function nameTheWorker(http: FastifyInstance, wss: WebSocketServer, id: number): void {
  const value = String(id);
  http.addHook('onRequest', async (_req, reply) => {
    reply.header(WORKER_HEADER, value);
  });
  wss.on('headers', (headers) => headers.push(`${WORKER_HEADER}: ${value}`));
}

export type { ListenAddress } from './listen-address.js';

/**
 * A wirehub server: Fastify for HTTP, ws for WebSockets, the hub and its engine.
 *
 * @example
 * ```ts
 * import { createServer } from 'wirehub';
 * const server = await createServer({ port: 0 });
 * const { wsUrl } = await server.listen();
 * // … new WebSocket(`${wsUrl}/echo`) …
 * await server.close();
 * ```
 */
export class WirehubServer {
  /** The Fastify instance: add your own HTTP routes before `listen()`. */
  readonly http: FastifyInstance;
  readonly hub: Hub;
  readonly metrics: ServerMetrics;
  readonly options: ResolvedServerOptions;
  readonly log: Logger;
  /** The task runner, unless `tasks: false`. */
  readonly tasks: ServerTasks | undefined;
  /** Verifies credentials; `auth.enabled` is false when the server runs without auth. */
  readonly auth: Authenticator;
  /** Where connection and rate limit state lives. */
  readonly limitStore: LimitStore;
  /** Set when this server is one worker process of `--workers`. */
  readonly worker: WorkerRole | undefined;
  private readonly security: UpgradeSecurity;
  private readonly proxyTrust: ProxyTrust;
  private readonly router = new EndpointRouter();
  private readonly sessions = new Set<WsSession>();
  /** The admin API's view of this node, and its requests to every node. */
  private readonly admin: ClusterAdmin;
  private readonly checks: UpgradeCheck[] = [];
  /** The paths the server's own routes take; an endpoint on one is refused. */
  private readonly builtins: BuiltinRoute[];
  private readonly wss: WebSocketServer;
  private readonly heartbeat: Heartbeat;
  private readonly lastResort: LastResort | undefined;
  private draining = false;
  private drained: Promise<void> | undefined;
  private closed: Promise<void> | undefined;
  private onEmpty: (() => void) | undefined;
  private started = false;
  /** Bun's native server, when `transport` is `bun`. */
  private bun: BunTransport | undefined;

  /**
   * Use `createServer(options)`: it loads the backends the options ask for and passes the
   * assembler (src/runtime/backends.ts) that builds them here, once the options passed their
   * checks.
   */
  constructor(options: ServerOptions, assemble: BackendAssembler) {
    this.options = resolveServerOptions(options);
    const o = this.options;
    // Bad security config fails here, at start, with a message that names it.
    this.proxyTrust = new ProxyTrust(o.trustProxy);
    this.auth = new Authenticator(o.auth ?? {}, new PermissionPolicy(o.permissions));
    const bindProblem = publicBindProblem(o.host, {
      authEnabled: this.auth.enabled,
      allowPublicWithoutAuth: o.allowPublicWithoutAuth,
    });
    if (bindProblem) throw new Error(bindProblem);
    // Before anything is built: a dashboard path that another built-in route takes is refused.
    if (o.dashboard !== false) {
      assertNoBuiltinRoute(
        o.dashboard,
        builtinRoutes({ dashboard: false, tasks: o.tasks !== false }),
        'the dashboard',
      );
    }
    this.builtins = builtinRoutes({ dashboard: o.dashboard, tasks: o.tasks !== false });
    // Slowloris: a client gets a bounded time for its headers and its whole request; Node
    // checks those deadlines every `connectionsCheckingInterval`, so that follows the bound.
    const timeouts = {
      ...NODE_HTTP_OPTIONS,
      headersTimeout: o.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(
        30_000,
        Math.max(100, Math.floor(o.headersTimeoutMs / 4) || 30_000),
      ),
    };
    const transport: Record<string, object> = o.tls
      ? { https: { cert: o.tls.cert, key: o.tls.key, ...timeouts } }
      : { http: timeouts };
    this.http = Fastify({
      loggerInstance: createPinoLogger(o.logLevel, o.logFormat),
      // One line per request, at debug (see logRequests), instead of Fastify's two at info.
      logController: new LogController({ disableRequestLogging: true }),
      requestTimeout: o.requestTimeoutMs,
      ...(o.trustProxy && o.trustProxy.length > 0 ? { trustProxy: o.trustProxy } : {}),
      ...errorAnsweringOptions(),
      ...transport,
    } as FastifyServerOptions) as unknown as FastifyInstance;
    // Before any route, yours included: it learns every route's methods (for 405), and the
    // headers plugin reads each route's `helmet` option (PAGE).
    installErrorHandling(this.http);
    // Your routes (added before listen()) on one of the server's own paths are refused by name.
    installRouteConflictCheck(this.http, this.builtins, () => !this.started);
    installSecurityHeaders(this.http, { tls: o.tls !== undefined, host: (req) => this.proxyTrust.host(req) });
    this.log = this.http.log;
    logRequests(this.http);
    const backends = assemble(o, this.log);
    this.hub = backends.hub;
    this.limitStore = backends.limitStore;
    this.tasks = backends.tasks;
    this.worker = backends.worker;
    this.security = new UpgradeSecurity({
      auth: this.auth,
      origins: new OriginPolicy({ allowed: o.allowedOrigins, allowLocalhost: !this.auth.enabled }),
      limits: o.limits,
      store: this.limitStore,
      log: this.log,
    });
    installHttpGuard(this.http, this.auth, { publicMetrics: o.publicMetrics });
    const lastResort = o.handleUncaughtErrors ? new LastResort(this.log, 'serve') : undefined;
    this.lastResort = lastResort;
    this.metrics = new ServerMetrics({
      defaultMetrics: o.defaultMetrics,
      queuedBytes: () => this.queuedBytes(),
      broker: () => ({ up: this.hub.brokerUp, ...this.hub.counters }),
      failures: () => this.hub.counters,
      fanout: () => this.hub.counters,
      ...(lastResort ? { uncaught: () => lastResort.stats } : {}),
      stores: () => this.storeHealth(),
    });
    this.admin = new ClusterAdmin(
      this.hub,
      new LocalAdminView(randomId('node', 6), this.sessions, this.hub),
      {
        log: this.log,
      },
    );
    quietReceiverEnd();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: o.maxPayloadBytes,
      perMessageDeflate: false,
      // The server keeps its own set of sessions: ws's would cost every connection a Set
      // entry and a 'close' listener closure.
      clientTracking: false,
      // Its emit hands events to the session: no listeners on each WebSocket (ws-session.ts).
      WebSocket: SessionWebSocket,
      // Select the first subprotocol the client offers that its endpoint speaks (`wirehub.v1` for /rt).
      handleProtocols: (offered, req) => {
        const path = new URL(req.url ?? '/', 'http://wirehub.invalid').pathname;
        const spoken = this.router.match(path)?.endpoint.protocols ?? [];
        return spoken.find((p) => offered.has(p)) ?? false;
      },
    });
    if (this.worker) nameTheWorker(this.http, this.wss, this.worker.id);
    this.heartbeat = new Heartbeat(this.sessions, o.pingIntervalMs, o.pongTimeoutMs, (s) => {
      this.log.debug({ session: s.id }, 'no pong: terminating');
      s.terminate(CloseCode.Abnormal);
    });
    const runs = this.tasks?.runs;
    for (const endpoint of o.builtinEndpoints ? builtinEndpoints(runs ? { runs } : {}) : []) {
      this.addEndpoint(endpoint);
    }
    if (runs) this.addEndpoint(taskRunnerEndpoint(runs));
    for (const endpoint of o.endpoints ?? []) this.addEndpoint(endpoint);
  }

  /** Serves another WebSocket endpoint. Call before `listen()`. */
  addEndpoint<S>(endpoint: EndpointDefinition<S>): this {
    if (this.started) throw new Error('addEndpoint() must be called before listen()');
    assertNoBuiltinRoute(endpoint.path, this.builtins, `the endpoint "${endpoint.name}"`);
    this.router.add(endpoint as EndpointDefinition<unknown>);
    return this;
  }

  /**
   * A Fastify hook for your own routes: it authenticates the request (401 without valid
   * credentials when auth is on) and runs `check`. `/api/*` routes are guarded already.
   *
   * @example
   * ```ts
   * server.http.get('/admin/stats', {
   *   onRequest: server.guard((p) => p.permissions.assert('metrics')),
   * }, async (req) => ({ user: principalOf(req).user }));
   * ```
   */
  guard(check?: GuardCheck) {
    return makeGuard(this.auth, check);
  }

  /**
   * Adds a check every upgrade must pass after the built-in ones (limits, origin, auth,
   * endpoint permission); it sees the principal. Call before `listen()`.
   */
  addUpgradeCheck(check: UpgradeCheck): this {
    this.checks.push(check);
    return this;
  }

  /** Open WebSocket connections on this node. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Bytes queued for all clients of this node and not yet taken by the kernel. */
  queuedBytes(): number {
    let total = 0;
    for (const session of this.sessions) total += session.bufferedAmount;
    return total;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Why `/readyz` answers 503, or undefined when ready. */
  notReadyReason(): string | undefined {
    if (this.draining) return 'this node is draining';
    if (!this.hub.brokerUp) return 'this node cannot reach its broker (Redis): other nodes cannot hear it';
    // Store health is readiness: a store that fails (or whose file is damaged) is not served as ready.
    for (const health of this.storeHealth()) if (health.problem) return health.problem;
    return undefined;
  }

  /** The health of the stores with a file of their own (channels.db, runs.db). */
  private storeHealth(): StoreHealth[] {
    const all = [this.hub.engine.health, this.tasks?.store.health];
    return all.filter((h): h is StoreHealth => h !== undefined);
  }

  /** Starts the engine and listens. Resolves with the bound address. */
  async listen(): Promise<ListenAddress> {
    if (this.started) throw new Error('listen() was already called');
    this.started = true;
    const o = this.options;
    await mkdir(o.dataDir, { recursive: true });
    await this.hub.start();
    await this.admin.start();
    await this.tasks?.start();
    const context: EndpointContext = {
      hub: this.hub,
      log: this.log,
      auth: this.auth,
      maxJsonDepth: o.maxJsonDepth,
    };
    const gate = new UpgradeGate({
      router: this.router,
      wss: this.wss,
      context,
      metrics: this.metrics,
      log: this.log,
      batcher: new WriteBatcher(),
      sessions: this.sessions,
      maxQueuedBytes: o.maxQueuedBytes,
      checks: this.checks,
      security: this.security,
      proxyTrust: this.proxyTrust,
      limits: o.limits,
      isDraining: () => this.draining,
      onSessionClosed: () => {
        if (this.sessions.size === 0) this.onEmpty?.();
      },
    });
    installJsonBodyParser(this.http, o.maxJsonDepth);
    // Before the routes: the document lists the routes added after it.
    await installApiDocs(this.http);
    installOpsRoutes(this.http, this.metrics, () => this.notReadyReason(), this.worker);
    installUpgradeRequiredRoutes(this.http, this.router.endpoints);
    installChannelRoutes(this.http, this.hub, this.tasks?.runs);
    installAdminRoutes(this.http, this.admin, this.hub);
    if (this.tasks) {
      installTaskRoutes(this.http, this.tasks.registry);
      installRunRoutes(this.http, this.tasks.runs, { authEnabled: this.auth.enabled });
    }
    installWebRoutes(this.http, {
      metrics: this.metrics,
      connections: () => this.sessions.size,
      queuedBytes: () => this.queuedBytes(),
      draining: () => this.draining,
      authEnabled: this.auth.enabled,
      tasksEnabled: this.tasks !== undefined,
      dashboardPath: o.dashboard,
    });
    if (o.transport === 'bun') {
      // Loaded only here: the Node path never loads the Bun transport.
      const { BunTransport } = await import('./bun/bun-transport.js');
      await this.http.ready();
      this.bun = new BunTransport({
        host: o.host,
        port: o.port,
        tls: o.tls,
        maxPayloadBytes: o.maxPayloadBytes,
        maxQueuedBytes: o.maxQueuedBytes,
        reusePort: this.worker !== undefined,
        upgradeHeaders: this.worker ? { [WORKER_HEADER]: String(this.worker.id) } : undefined,
        gate,
        http: this.http,
        log: this.log,
      });
      this.bun.listen();
    } else {
      this.http.server.on('upgrade', (req, socket, head) => gate.handle(req, socket, head));
      await this.http.listen({ host: o.host, port: o.port });
    }
    this.heartbeat.start();
    // Only now: an error while starting must still stop the process (see LastResort).
    this.lastResort?.install();
    const address = this.address();
    if (!this.auth.enabled) {
      this.log.warn(
        { auth: 'none', host: o.host },
        isLoopbackHost(o.host)
          ? 'auth is off: anyone on this machine can connect (set --jwt-secret, --jwks or --api-key)'
          : `AUTH IS OFF and the server listens on ${o.host}: any machine that reaches it may use /ws, /echo, /broadcast, /stream and /chat/{room} with no credentials (everything else answers this machine only). Set --jwt-secret, --jwks or --api-key before exposing it.`,
      );
    }
    return address;
  }

  /** Which server carries the connections: `node` (node:http + ws) or `bun` (Bun.serve). */
  get transport(): 'node' | 'bun' {
    return this.options.transport;
  }

  address(): ListenAddress {
    if (this.bun) return this.bun.address();
    const addr = this.http.server.address() as AddressInfo | null;
    if (!addr) throw new Error('the server is not listening');
    return listenAddress(addr.address, addr.port, this.options.tls !== undefined);
  }

  /**
   * Graceful shutdown: `/readyz` turns 503, new upgrades are refused, and every connection is
   * closed with 1001, spread over `windowMs` so clients do not all reconnect at once. Then
   * the server closes.
   */
  drain(windowMs = this.options.drainWindowMs): Promise<void> {
    this.drained ??= this.runDrain(windowMs);
    return this.drained;
  }

  /** Stops at once: connections are terminated, the engine is closed. */
  close(): Promise<void> {
    this.closed ??= this.runClose();
    return this.closed;
  }

  private async runDrain(windowMs: number): Promise<void> {
    this.draining = true;
    // Task attempts running here (BullMQ) get the same window, then go back to the queue.
    const tasksDrained = this.tasks
      ?.drain(windowMs)
      .catch((err: unknown) => this.log.error({ err }, 'draining the task runner failed'));
    const sessions = [...this.sessions];
    if (sessions.length > 0) {
      const allClosed = new Promise<void>((resolve) => {
        this.onEmpty = resolve;
      });
      await closeSpread(sessions, windowMs, allClosed);
    }
    await tasksDrained;
    await this.close();
  }

  private async runClose(): Promise<void> {
    this.draining = true;
    this.heartbeat.stop();
    for (const session of [...this.sessions]) session.terminate(CloseCode.Abnormal);
    this.wss.close();
    await this.bun?.close();
    await this.http.close();
    await this.tasks?.close();
    await this.admin.stop();
    await this.hub.close();
    await this.limitStore.close?.();
    this.lastResort?.uninstall();
  }
}
