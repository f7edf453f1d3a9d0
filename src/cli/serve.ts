import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import type { SqliteSync } from '../engine/sqlite/sync-mode.js';
import type { NamespaceConfig } from '../hub/namespaces.js';
import { defaults, MAX_JSON_DEPTH_CEILING } from '../protocol/index.js';
import { serverDefaults } from '../server/defaults.js';
import type { ServerOptions } from '../server/options.js';
import type { LogFormat } from '../server/pino-logger.js';
import { DEFAULT_RUN_RETENTION_MS } from '../tasks/runs/run-store.js';
import { applyConfigFile, configOption } from './config-file.js';
import { drainOnSignals } from './drain-on-signals.js';
import { opt } from './env-option.js';
import { type FlyteFlags, flyteFromFlags, flyteOptions } from './flyte-flags.js';
import { logFormatOption, logLevelOption } from './log-flags.js';
import {
  collectList,
  parseDashboard,
  parseDuration,
  parseDurationAtLeast,
  parseHost,
  parseHttpUrl,
  parseIntAtLeast,
  parseIntBetween,
  parseNamespacesFile,
  parseNonEmpty,
  parsePort,
  parsePositiveInt,
  parseRedisUrl,
  parseRunRetention,
  parseSize,
  parseSqliteSync,
  parseWorkers,
} from './parse.js';
import {
  authFlagsSet,
  type SecurityFlags,
  securityFlagsProblem,
  securityOptions,
  toServerSecurityOptions,
} from './security-flags.js';
import { exitOnStartErrors } from './start-guard.js';

interface ServeFlags extends SecurityFlags, FlyteFlags {
  host: string;
  port: number;
  dataDir: string;
  pingInterval: number;
  pongTimeout: number;
  maxPayload: number;
  maxJsonDepth: number;
  maxQueued: number;
  drainWindow: number;
  logLevel: string;
  logFormat: LogFormat;
  namespaces?: NamespaceConfig[];
  maxChannels: number;
  tasks: string[] | undefined;
  publicUrl: string | undefined;
  taskWorkers: number;
  taskQueue: number;
  redis?: string;
  presenceTtl: number;
  runRetention: number;
  orphanGrace: number;
  sqliteSync: SqliteSync;
  dashboard: string | false;
  workers: number;
}

export function serveCommand(): Command {
  const command = new Command('serve');
  command
    .description(
      'run the wirehub server (the seed endpoints /ws, /echo, /broadcast, /stream, /chat/{room}, /task-runner, and /rt)',
    )
    .addOption(opt('--host <host>', 'interface to bind', 'WIREHUB_HOST', parseHost, serverDefaults.host))
    .addOption(
      opt('--port <port>', 'TCP port (0 = any free port)', 'WIREHUB_PORT', parsePort, serverDefaults.port),
    )
    .addOption(
      opt(
        '--data-dir <dir>',
        'where state is kept',
        'WIREHUB_DATA_DIR',
        parseNonEmpty,
        serverDefaults.dataDir,
      ),
    )
    .addOption(
      opt(
        '--sqlite-sync <mode>',
        'what an ack survives with the embedded stores (channels.db, runs.db): normal = a crash of the process, full = also a power loss (an fsync per group commit)',
        'WIREHUB_SQLITE_SYNC',
        parseSqliteSync,
        serverDefaults.sqliteSync,
      ),
    )
    .addOption(
      opt(
        '--ping-interval <duration>',
        'server ping interval (ms, or 25s, 1m)',
        'WIREHUB_PING_INTERVAL',
        parseDuration,
        defaults.pingIntervalMs,
        '25s',
      ),
    )
    .addOption(
      opt(
        '--pong-timeout <duration>',
        'time a client has to answer a ping',
        'WIREHUB_PONG_TIMEOUT',
        parseDuration,
        defaults.pongTimeoutMs,
        '10s',
      ),
    )
    .addOption(
      opt(
        '--max-payload <size>',
        'largest inbound message (bytes, or 64KiB); bigger closes with 1009',
        'WIREHUB_MAX_PAYLOAD',
        parseSize,
        defaults.maxPayloadBytes,
        '64KiB',
      ),
    )
    .addOption(
      opt(
        '--max-json-depth <n>',
        'most levels of objects and arrays in client JSON (frames, bodies, task inputs); deeper is refused with json_too_deep',
        'WIREHUB_MAX_JSON_DEPTH',
        parseIntBetween(1, MAX_JSON_DEPTH_CEILING),
        defaults.maxJsonDepth,
      ),
    )
    .addOption(
      opt(
        '--max-queued <size>',
        'per-connection cap on queued output; over it /stream drops samples, others close with 4008',
        'WIREHUB_MAX_QUEUED',
        parseSize,
        defaults.maxQueuedBytes,
        '1MiB',
      ),
    )
    .addOption(
      opt(
        '--drain-window <duration>',
        'on SIGTERM/SIGINT, spread the 1001 closes over this window',
        'WIREHUB_DRAIN_WINDOW',
        parseDuration,
        defaults.drainWindowMs,
        '5s',
      ),
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .addOption(
      new Option(
        '--namespaces <file>',
        'JSON file: an array of channel namespaces ({pattern, history, presence, joinLeave, joinLeaveDebounceMs, publish, overflow}); same patterns replace the built-in ones',
      )
        .env('WIREHUB_NAMESPACES')
        .argParser(parseNamespacesFile),
    )
    .addOption(
      opt(
        '--max-channels <n>',
        'channels one /rt connection may subscribe to',
        'WIREHUB_MAX_CHANNELS',
        parsePositiveInt,
        defaults.maxChannelsPerConnection,
      ),
    )
    .addOption(
      new Option(
        '--redis <url>',
        'run as one node of a cluster: redis://host:port[/db]; channels, history, presence and /ws counts become cluster-wide',
      )
        .env('WIREHUB_REDIS_URL')
        .argParser(parseRedisUrl),
    )
    .addOption(
      opt(
        '--presence-ttl <duration>',
        "presence entries live this long unless their node refreshes them (at a third of it); a dead node's members go after it",
        'WIREHUB_PRESENCE_TTL',
        parseDurationAtLeast(100),
        defaults.presenceTtlMs,
        '60s',
      ),
    )
    .addOption(
      new Option('--tasks <dir|glob>', 'task modules to serve besides the demo tasks (repeatable)')
        .env('WIREHUB_TASKS')
        .argParser(collectList),
    )
    .addOption(
      new Option('--public-url <url>', "base of run URLs (default: from each request's Host)")
        .env('WIREHUB_PUBLIC_URL')
        .argParser(parseHttpUrl),
    )
    .addOption(
      opt(
        '--task-workers <n>',
        'worker threads that run tasks on this node; with --redis, 0 = none (wirehub worker processes run them)',
        'WIREHUB_TASK_WORKERS',
        parseIntAtLeast(0),
        availableParallelism(),
        'number of CPUs',
      ),
    )
    .addOption(
      opt(
        '--task-queue <n>',
        'runs that may wait for a worker (with --redis: runs queued or running in the cluster); more are refused with queue_full',
        'WIREHUB_TASK_QUEUE',
        parseIntAtLeast(0),
        1000,
      ),
    )
    .addOption(
      opt(
        '--run-retention <duration>',
        'how long an ended run (record and updates) is kept, e.g. 12h or 30d; then it is unknown_run',
        'WIREHUB_RUN_RETENTION',
        parseRunRetention,
        DEFAULT_RUN_RETENTION_MS,
        '7d',
      ),
    )
    .addOption(
      opt(
        '--orphan-grace <duration>',
        'with --redis: an unfinished run unchanged this long whose job Redis no longer has is re-queued (or failed); also how often nodes look',
        'WIREHUB_ORPHAN_GRACE',
        parseDurationAtLeast(100),
        30_000,
        '30s',
      ),
    )
    .addOption(
      opt(
        '--dashboard <false|path>',
        'where the dashboard page is served, or false for none (an endpoint on its path is refused)',
        'WIREHUB_DASHBOARD',
        parseDashboard,
        '/',
      ),
    )
    .addOption(
      opt(
        '--workers <n|auto>',
        'worker processes sharing the port as one server (auto = one per CPU); 1 = this process alone',
        'WIREHUB_WORKERS',
        parseWorkers,
        1,
      ),
    );
  for (const option of securityOptions()) command.addOption(option);
  for (const option of flyteOptions()) command.addOption(option);
  command.addOption(configOption()).hook('preAction', (cmd) => applyConfigFile(cmd));
  return command.action(async (flags: ServeFlags) => {
    const security = toServerSecurityOptions(flags);
    // Loaded here, not at the top, as the server is below.
    const { publicBindProblem } = await import('../server/security/unauthenticated-access.js');
    const problem =
      securityFlagsProblem(flags) ??
      publicBindProblem(flags.host, {
        authEnabled: authFlagsSet(flags),
        allowPublicWithoutAuth: security.allowPublicWithoutAuth === true,
        flags: true,
      });
    if (problem) command.error(`error: ${problem}`, { exitCode: 2, code: 'wirehub.usage' });
    if (flags.taskWorkers === 0 && !flags.redis) {
      command.error(
        "error: option '--task-workers <n>' can be 0 only with --redis (then wirehub worker processes run the tasks)",
        { exitCode: 2, code: 'wirehub.usage' },
      );
    }
    if (flags.taskQueue === 0 && flags.redis) {
      command.error(
        "error: option '--task-queue <n>' must be at least 1 with --redis (it bounds the runs queued or running in the cluster)",
        { exitCode: 2, code: 'wirehub.usage' },
      );
    }
    let flyte: ReturnType<typeof flyteFromFlags>;
    try {
      flyte = flyteFromFlags(flags);
    } catch (err) {
      command.error(`error: ${(err as Error).message}`, { exitCode: 2, code: 'wirehub.usage' });
    }
    // Loaded here, not at the top: every other command (connect, run, tasks…) starts without
    // the server's modules (Fastify, BullMQ, SQLite…), about 3× faster.
    const options: ServerOptions = {
      ...security,
      host: flags.host,
      port: flags.port,
      dataDir: flags.dataDir,
      sqliteSync: flags.sqliteSync,
      pingIntervalMs: flags.pingInterval,
      pongTimeoutMs: flags.pongTimeout,
      maxPayloadBytes: flags.maxPayload,
      maxJsonDepth: flags.maxJsonDepth,
      maxQueuedBytes: flags.maxQueued,
      drainWindowMs: flags.drainWindow,
      logLevel: flags.logLevel,
      logFormat: flags.logFormat,
      maxChannelsPerConnection: flags.maxChannels,
      // A bug that escapes every handler is logged and counted, not a reason to drop every client.
      handleUncaughtErrors: true,
      presenceTtlMs: flags.presenceTtl,
      dashboard: flags.dashboard,
      ...(flags.namespaces ? { namespaces: flags.namespaces } : {}),
      ...(flags.redis ? { redis: flags.redis } : {}),
      tasks: {
        modules: flags.tasks ?? [],
        publicUrl: flags.publicUrl,
        poolSize: flags.taskWorkers,
        queueSize: flags.taskQueue,
        runRetentionMs: flags.runRetention,
        orphanGraceMs: flags.orphanGrace,
        ...(flyte ? { flyte } : {}),
      },
    };
    if (flags.workers > 1) return serveWorkers(command, options, flags.workers);
    const started = exitOnStartErrors();
    const { createServer } = await import('../runtime/create-server.js');
    const server = await createServer(options);
    const address = await server.listen();
    started();
    server.log.info(
      {
        url: address.url,
        dataDir: flags.dataDir,
        engine: server.hub.engine.kind,
        executor: server.tasks?.executor.kind,
        transport: server.transport,
      },
      `wirehub listening on ${address.url}`,
    );
    drainOnSignals(
      server.log,
      () => ({ connections: server.connectionCount }),
      () => server.drain(),
    );
  });
}

/**
 * `serve --workers N`: this process is the primary (it forks the workers and owns the stores)
 * or, when the primary forked it, one worker (the same command line runs in each).
 */
async function serveWorkers(command: Command, options: ServerOptions, workers: number): Promise<void> {
  const cluster = (await import('node:cluster')).default;
  if (cluster.isWorker) {
    const { startWorkerServer } = await import('../runtime/workers/worker.js');
    const server = await startWorkerServer(options);
    server.log.info({ worker: server.worker?.id, pid: process.pid }, 'worker ready');
    drainOnSignals(
      server.log,
      () => ({ worker: server.worker?.id, connections: server.connectionCount }),
      () => server.drain(),
    );
    return;
  }
  const { startPrimary } = await import('../runtime/workers/primary.js');
  let primary: Awaited<ReturnType<typeof startPrimary>>;
  try {
    primary = await startPrimary(options, workers);
  } catch (err) {
    command.error(`error: ${(err as Error).message}`, { exitCode: 1, code: 'wirehub.workers' });
  }
  primary.log.info(
    { url: primary.url, workers, dataDir: options.dataDir, pid: process.pid },
    `wirehub listening on ${primary.url} (${workers} workers)`,
  );
  drainOnSignals(
    primary.log,
    () => ({ workers: primary.workers() }),
    () => primary.drain(),
  );
}
