import type { EndpointDefinition } from '../endpoints/endpoint.js';
import type { LimitStore } from '../engine/limits.js';
import type { RedisEngineOptions } from '../engine/redis/redis-engine.js';
import type { SqliteSync } from '../engine/sqlite/sqlite-file.js';
import type { Engine } from '../engine/types.js';
import type { NamespaceConfig } from '../hub/namespaces.js';
import type { PermissionConfig } from '../hub/permissions.js';
import { defaults, MAX_JSON_DEPTH_CEILING } from '../protocol/index.js';
import type { Executor } from '../tasks/executors/executor.js';
import type { FlyteOptions } from '../tasks/executors/flyte/config.js';
import type { RunStore } from '../tasks/runs/run-store.js';
import { serverDefaults } from './defaults.js';
import { resolveDashboardPath } from './http/builtin-routes.js';
import type { LogFormat } from './pino-logger.js';
import type { AuthOptions } from './security/authenticator.js';
import { type LimitOptions, type ResolvedLimits, resolveLimits } from './security/limits.js';

/**
 * Options of `createServer`. Every field has a default; the CLI maps its flags and
 * `WIREHUB_*` environment variables onto these.
 */
export interface ServerOptions {
  /**
   * Interface to bind. Default `127.0.0.1`. Binding another interface (`0.0.0.0`, a LAN
   * address) without auth throws unless `allowPublicWithoutAuth`.
   */
  host?: string;
  /**
   * Start without auth on a non-loopback `host`. Other machines then get only the guide's
   * plain endpoints (`/ws`, `/echo`, `/broadcast`, `/stream`, `/chat/{room}`) and the pages;
   * everything else answers this machine only. Default false: such a server refuses to start.
   */
  allowPublicWithoutAuth?: boolean;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Where the embedded engine keeps its state. Default `./.wirehub`. */
  dataDir?: string;
  /** Interval between server pings. Default 25 s; 0 disables heartbeats. */
  pingIntervalMs?: number;
  /** How long a ping may go unanswered before the connection is terminated. Default 10 s. */
  pongTimeoutMs?: number;
  /** Largest inbound message; bigger ones close the connection with 1009. Default 64 KiB. */
  maxPayloadBytes?: number;
  /**
   * Most levels of objects and arrays in client JSON: `/rt` and `/task-runner` frames, HTTP
   * JSON bodies, task inputs. Deeper is refused with `json_too_deep` (an error frame, or 400).
   * Default 64; at most 1000 (serialising overflows the stack somewhere above 4 000).
   */
  maxJsonDepth?: number;
  /** Per-connection cap on queued outbound bytes. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** Window over which a drain spreads its 1001 closes. Default 5 s. */
  drainWindowMs?: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent. Default `info`. */
  logLevel?: string;
  /**
   * `json` (one object a line, the default) or `pretty` (readable lines for a terminal; the
   * CLI picks it when stdout is one). Requests are logged one line each, at `debug`.
   */
  logFormat?: LogFormat;
  /** The engine; default the embedded engine, persisted in `<dataDir>/channels.db`. */
  engine?: Engine;
  /**
   * What an ack survives with the embedded stores (`channels.db`, `runs.db`): `normal`
   * (default) a crash of the process, `full` also a power loss or an OS crash (an fsync per
   * group commit). See docs/protocol.md.
   */
  sqliteSync?: SqliteSync;
  /**
   * Run as one node of a cluster: the Redis engine on this URL (`redis://host:port[/db]`) or
   * with these options. Channels, history, presence and the `/ws` count become cluster-wide.
   * Run records live in Redis too, and runs go to a BullMQ queue (run by this
   * node's task workers and by `wirehub worker` processes). Ignored by the engine when
   * `engine` is given.
   */
  redis?: string | RedisEngineOptions;
  /** Channel namespaces; a config with a built-in pattern (`chat:*`, …) replaces that one. */
  namespaces?: NamespaceConfig[];
  /** Channels one `/rt` connection may subscribe to at once. Default 128. */
  maxChannelsPerConnection?: number;
  /** TTL of presence entries (refreshed by their node at a third of it). Default 60 s. */
  presenceTtlMs?: number;
  /**
   * Where the dashboard page is served: a path (default `/`), or `false` for none. Its assets
   * stay under `/assets/` (the run pages and the client SDK use them too). An endpoint on the
   * dashboard's path (or any other built-in route's) is refused by `createServer`.
   */
  dashboard?: boolean | string;
  /** Serve the seed's plain endpoints (`/ws`, `/echo`, …). Default true. */
  builtinEndpoints?: boolean;
  /** More endpoints to serve. */
  endpoints?: EndpointDefinition<unknown>[];
  /** Register Node's default process metrics in /metrics. Default true. */
  defaultMetrics?: boolean;
  /** JWT / JWKS / API-key authentication. With none configured, auth is off (a warning is logged). */
  auth?: AuthOptions;
  /** Who may do what: grants for anonymous and authenticated callers and by role. */
  permissions?: PermissionConfig;
  /**
   * Origins (besides the server's own) whose pages may open WebSockets: `https://app.example.com`,
   * `https://*.example.com`, or `*`. Pages on localhost are also allowed while auth is off.
   */
  allowedOrigins?: string[];
  /** Connection and message limits (0 turns one off). */
  limits?: LimitOptions;
  /** Where limit state lives; default in this process. */
  limitStore?: LimitStore;
  /** Serve https and wss with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Proxies trusted to set X-Forwarded-For/-Host: IPs, CIDRs, `loopback`, `linklocal`, `uniquelocal`. */
  trustProxy?: string[];
  /** Time a client has to send its complete request headers (slowloris bound). Default 10 s. */
  headersTimeoutMs?: number;
  /** Time a client has to send a complete request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Serve /metrics without credentials even when auth is on. Default false. */
  publicMetrics?: boolean;
  /**
   * The task runner (`/task-runner`, `/api/tasks`, `/api/runs`, `/runs/{id}`). Default: on,
   * with the demo tasks; `false` turns it off.
   */
  tasks?: TaskServerOptions | false;
  /**
   * Install process-wide `uncaughtException` / `unhandledRejection` handlers once `listen()`
   * has succeeded (removed by `close()`): such an error is logged and counted
   * (`wirehub_uncaught_errors_total`) and the process keeps serving. Default false: a library
   * leaves a host program's process-wide behaviour alone; `wirehub serve` turns it on.
   */
  handleUncaughtErrors?: boolean;
  /**
   * Which server carries the connections: `node` (Fastify on node:http, WebSockets by `ws`) or
   * `bun` (Bun's native server: `Bun.serve` and its uWebSockets WebSockets; the Fastify app
   * answers HTTP in process). Default: `bun` when the process runs under Bun, else `node`.
   * `WIREHUB_TRANSPORT=node` keeps the Node-compatible server under Bun.
   */
  transport?: 'node' | 'bun';
}

/** The `tasks` option of `createServer`. */
export interface TaskServerOptions {
  /** Task modules: files, directories (every .js/.mjs/.cjs below) or globs. */
  modules?: string[];
  /** Serve the demo tasks (`demo/development/*@v1`). Default true. */
  demo?: boolean;
  /**
   * Worker threads that run tasks in this process. Default: the number of CPUs. With `redis`,
   * 0 means this node runs no jobs (separate `wirehub worker` processes do).
   */
  poolSize?: number;
  /**
   * Runs that may wait before new ones are refused (`queue_full`). Default 1000. With `redis`
   * it bounds the runs queued or running in the whole cluster.
   */
  queueSize?: number;
  /** First retry backoff (doubles each retry). Default 1 s. */
  retryDelayMs?: number;
  /** Grace between a cancel/timeout signal and terminating the task's thread. Default 2 s. */
  abortGraceMs?: number;
  /** Base of run URLs, e.g. `https://hub.example.com`. Default: from each request's Host. */
  publicUrl?: string;
  /** Another executor instead of the embedded one (or, with `redis`, the BullMQ one). */
  executor?: Executor;
  /** Another run store instead of SQLite (or, with `redis`, Redis). */
  store?: RunStore;
  /**
   * How long an ended run (record and updates) is kept; then it is an unknown run. Default
   * 7 days. With `redis`, give every node and worker the same value.
   */
  runRetentionMs?: number;
  /** With `redis`: BullMQ lock duration of jobs this node runs (how fast a dead worker is noticed). Default 30 s. */
  lockDurationMs?: number;
  /** With `redis`: interval of this node's stalled-job check. Default 30 s. */
  stalledIntervalMs?: number;
  /**
   * With `redis`: an unfinished run unchanged this long whose job Redis no longer has (a
   * restart that lost the last writes, a crash before the job was queued) is taken over:
   * re-queued, or failed when no attempt is left. Also how often nodes look. Default 30 s.
   */
  orphanGraceMs?: number;
  /** Where relative module paths start. Default: the process's working directory. */
  cwd?: string;
  /**
   * A Flyte 2 cluster to send runs to: requests for tasks this server does not have (no
   * local task of that project/domain/name) are looked up there and run there. Loaded only
   * when set. See docs/tasks.md, "Flyte 2".
   */
  flyte?: FlyteOptions;
}

type Passed =
  | 'engine'
  | 'endpoints'
  | 'namespaces'
  | 'auth'
  | 'permissions'
  | 'allowedOrigins'
  | 'limitStore'
  | 'tls'
  | 'trustProxy'
  | 'redis';

export type ResolvedServerOptions = Required<Omit<ServerOptions, Passed | 'limits' | 'tasks' | 'dashboard'>> &
  Pick<ServerOptions, Passed> & {
    limits: ResolvedLimits;
    tasks: TaskServerOptions | false;
    /** The dashboard's path, or false when it is off. */
    dashboard: string | false;
  };

function resolveMaxJsonDepth(value: number | undefined): number {
  if (value === undefined) return defaults.maxJsonDepth;
  if (!Number.isInteger(value) || value < 1 || value > MAX_JSON_DEPTH_CEILING) {
    throw new Error(`maxJsonDepth must be a whole number from 1 to ${MAX_JSON_DEPTH_CEILING}, got ${value}`);
  }
  return value;
}

export function resolveServerOptions(o: ServerOptions): ResolvedServerOptions {
  return {
    host: o.host ?? serverDefaults.host,
    allowPublicWithoutAuth: o.allowPublicWithoutAuth ?? false,
    port: o.port ?? serverDefaults.port,
    dataDir: o.dataDir ?? serverDefaults.dataDir,
    pingIntervalMs: o.pingIntervalMs ?? defaults.pingIntervalMs,
    pongTimeoutMs: o.pongTimeoutMs ?? defaults.pongTimeoutMs,
    maxPayloadBytes: o.maxPayloadBytes ?? defaults.maxPayloadBytes,
    maxJsonDepth: resolveMaxJsonDepth(o.maxJsonDepth),
    maxQueuedBytes: o.maxQueuedBytes ?? defaults.maxQueuedBytes,
    drainWindowMs: o.drainWindowMs ?? defaults.drainWindowMs,
    logLevel: o.logLevel ?? serverDefaults.logLevel,
    logFormat: o.logFormat ?? 'json',
    sqliteSync: o.sqliteSync ?? serverDefaults.sqliteSync,
    dashboard: resolveDashboardPath(o.dashboard),
    builtinEndpoints: o.builtinEndpoints ?? true,
    defaultMetrics: o.defaultMetrics ?? true,
    maxChannelsPerConnection: o.maxChannelsPerConnection ?? defaults.maxChannelsPerConnection,
    presenceTtlMs: o.presenceTtlMs ?? defaults.presenceTtlMs,
    namespaces: o.namespaces,
    engine: o.engine,
    redis: o.redis,
    endpoints: o.endpoints,
    tasks: o.tasks ?? {},
    auth: o.auth,
    permissions: o.permissions,
    allowedOrigins: o.allowedOrigins,
    limits: resolveLimits(o.limits),
    limitStore: o.limitStore,
    tls: o.tls,
    trustProxy: o.trustProxy,
    headersTimeoutMs: o.headersTimeoutMs ?? serverDefaults.headersTimeoutMs,
    // Node wants the request timeout (when on) to be at least the headers timeout.
    requestTimeoutMs:
      o.requestTimeoutMs === 0
        ? 0
        : Math.max(
            o.requestTimeoutMs ?? serverDefaults.requestTimeoutMs,
            o.headersTimeoutMs ?? serverDefaults.headersTimeoutMs,
          ),
    publicMetrics: o.publicMetrics ?? false,
    handleUncaughtErrors: o.handleUncaughtErrors ?? false,
    transport: o.transport ?? 'node',
  };
}
