import cluster, { type Worker } from 'node:cluster';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { AggregatorRegistry } from 'prom-client';
import { EngineHost } from '../../engine/ipc/engine-host.js';
import { IpcEngine } from '../../engine/ipc/ipc-engine.js';
import { LimitStoreHost } from '../../engine/ipc/ipc-limit-store.js';
import { messagePortPort } from '../../engine/ipc/port.js';
import { RpcPeer } from '../../engine/ipc/rpc.js';
import { MemoryLimitStore } from '../../engine/memory/memory-limit-store.js';
import { SqliteEngine } from '../../engine/sqlite/sqlite-engine.js';
import { WirehubError } from '../../protocol/errors.js';
import type { ServerBackends } from '../../server/backends.js';
import { LastResort } from '../../server/last-resort.js';
import { resolveServerOptions, type ServerOptions } from '../../server/options.js';
import { createPinoLogger } from '../../server/pino-logger.js';
import { ExecutorHost } from '../../tasks/executors/ipc-executor.js';
import { RunStoreHost } from '../../tasks/runs/ipc-run-store.js';
import type { Logger } from '../../util/logger.js';
import { assembleBackends } from '../backends.js';
import {
  CLUSTER_SERVICE,
  type ClusterMetrics,
  type WorkerCount,
  type WorkerListening,
  type WorkerStats,
  workerMetricLines,
} from './cluster-service.js';
import { endWorkerWithoutLink, primarySideOf, WORKER_STDIO } from './link.js';
import { WORKER_PORT_ENV, workersBindThePort } from './worker-port.js';

/** A worker that lived this long before it exited restarts at once (its backoff starts over). */
const HEALTHY_LIFE_MS = 10_000;
/** Restart delays of a worker that keeps exiting: 100 ms, doubled each time, at most 5 s. */
const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 5_000;

/** The primary process of `wirehub serve --workers N`, once every worker listens. */
export interface Primary {
  log: Logger;
  /** `http(s)://host:port`: the port every worker shares. */
  url: string;
  workers(): WorkerCount;
  /**
   * Drains the whole server: every worker gets SIGTERM (and closes its clients with 1001 over
   * the drain window), then, after the last one exited, the runs here get the same window and
   * the stores close.
   */
  drain(): Promise<void>;
}

/** One slot of the N: the worker in it now and how often it failed in a row. */
interface Slot {
  worker: Worker | undefined;
  peer: RpcPeer | undefined;
  listening: boolean;
  startedAt: number;
  failures: number;
}

/** The stores the primary owns when the server runs on the embedded default (no `redis`). */
interface Hosts {
  backends: ServerBackends;
  engine: EngineHost;
  runs: RunStoreHost | undefined;
  executor: ExecutorHost | undefined;
  limits: LimitStoreHost;
}

/**
 * Runs the primary of `wirehub serve --workers N`: it owns the embedded stores (channels.db
 * through an {@link EngineHost}, runs.db, the executor that runs every task, and the per-IP
 * limits) and serves them to N worker processes it forks with `node:cluster`; the workers
 * share the port (round-robin on Node, SO_REUSEPORT under Bun: see `worker-port.ts`) and each
 * runs the HTTP/WebSocket server. A worker that exits
 * is started again (with backoff). With `redis` the primary only supervises: each worker is a
 * node of the Redis cluster. Resolves once every worker listens; rejects if one cannot start
 * (then every worker is stopped).
 *
 * @example
 * ```ts
 * const primary = await startPrimary({ port: 8080 }, 4);
 * process.once('SIGTERM', () => void primary.drain().then(() => process.exit(0)));
 * ```
 */
export async function startPrimary(options: ServerOptions, wanted: number): Promise<Primary> {
  const o = resolveServerOptions(options);
  const log = createPinoLogger(o.logLevel, o.logFormat).child({ role: 'primary' });
  const hosts = o.redis === undefined ? await openHosts(options, log) : undefined;
  const aggregator = new AggregatorRegistry();
  const slots: Slot[] = Array.from({ length: wanted }, () => ({
    worker: undefined,
    peer: undefined,
    listening: false,
    startedAt: 0,
    failures: 0,
  }));
  let restarts = 0;
  let stopping = false;
  let everyoneListened = false;
  let address: { host: string; port: number } | undefined;
  const timers = new Set<NodeJS.Timeout>();
  let ready!: () => void;
  let failed!: (err: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const allExited: (() => void)[] = [];

  const count = (): WorkerCount => ({
    alive: slots.filter((s) => s.listening).length,
    wanted,
  });
  const tellWorkers = () => {
    const now = count();
    for (const slot of slots) slot.peer?.push(CLUSTER_SERVICE, 'workers', [now]);
  };
  const metrics = async (): Promise<ClusterMetrics> => {
    const connections = new Map<number, number>();
    await Promise.all(
      slots.map(async (slot) => {
        if (!slot.worker || !slot.peer || !slot.listening) return;
        const stats = await slot.peer.call<WorkerStats>(CLUSTER_SERVICE, 'stats', []).catch(() => undefined);
        if (stats) connections.set(slot.worker.id, stats.connections);
      }),
    );
    const text = await aggregator.clusterMetrics();
    return {
      contentType: aggregator.contentType,
      text: text + workerMetricLines(count(), restarts, connections),
    };
  };

  cluster.setupPrimary({ stdio: [...WORKER_STDIO] });
  // Under Bun with port 0, the first worker picks the port and the rest start once it has.
  const later = workersBindThePort() && o.port === 0 ? slots.slice(1) : [];

  const fork = (slot: Slot) => {
    const env: Record<string, string> = { WIREHUB_WORKER: '1' };
    if (workersBindThePort() && address) env[WORKER_PORT_ENV] = String(address.port);
    const worker = cluster.fork(env);
    const peer = new RpcPeer(primarySideOf(worker), () => new WirehubError('internal', 'the worker is gone'));
    worker.on('error', (err) => log.warn({ err, worker: worker.id }, 'worker channel error'));
    peer.onClose(() =>
      endWorkerWithoutLink(
        worker,
        () => stopping,
        () => log.error({ worker: worker.id }, 'the link to a worker broke while it runs: ending it'),
      ),
    );
    slot.worker = worker;
    slot.peer = peer;
    slot.listening = false;
    slot.startedAt = Date.now();
    peer.serve(CLUSTER_SERVICE, {
      workers: () => count(),
      metrics,
    });
    if (hosts) {
      hosts.engine.attach(peer);
      hosts.runs?.attach(peer);
      hosts.executor?.attach(peer);
      hosts.limits.attach(peer);
    }
    peer.onPush(CLUSTER_SERVICE, (event, args) => {
      if (event !== 'listening') return;
      const where = args[0] as WorkerListening;
      slot.listening = true;
      slot.failures = 0;
      address ??= { host: where.host, port: where.port };
      for (const waiting of later.splice(0)) fork(waiting);
      log.debug({ worker: worker.id, pid: worker.process.pid }, 'worker listening');
      tellWorkers();
      if (!everyoneListened && slots.every((s) => s.listening)) {
        everyoneListened = true;
        ready();
      }
    });
    worker.on('exit', (code, signal) => {
      peer.close();
      const wasListening = slot.listening;
      slot.worker = undefined;
      slot.peer = undefined;
      slot.listening = false;
      tellWorkers();
      if (stopping) {
        if (slots.every((s) => s.worker === undefined)) for (const done of allExited.splice(0)) done();
        return;
      }
      if (!everyoneListened && !wasListening) {
        // A worker that cannot start (a bad option, the port taken) will not start the next time.
        failed(new Error(`a worker exited with ${signal ?? code} before it listened`));
        return;
      }
      const lived = Date.now() - slot.startedAt;
      slot.failures = lived >= HEALTHY_LIFE_MS ? 0 : slot.failures + 1;
      const delay =
        slot.failures === 0 ? 0 : Math.min(MAX_RESTART_MS, FIRST_RESTART_MS * 2 ** (slot.failures - 1));
      log.warn({ worker: worker.id, code, signal, restartInMs: delay }, 'worker exited: restarting it');
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (stopping) return;
        restarts += 1;
        fork(slot);
      }, delay);
      timers.add(timer);
    });
  };

  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    if (slots.some((s) => s.worker !== undefined)) {
      const exited = new Promise<void>((resolve) => allExited.push(resolve));
      for (const slot of slots) slot.worker?.process.kill('SIGTERM');
      await exited;
    }
  };

  const closeHosts = async (drainMs: number): Promise<void> => {
    if (!hosts) return;
    const tasks = hosts.backends.tasks;
    // Runs still going get the drain window, then are interrupted and re-queued at the next start.
    await tasks
      ?.drain(drainMs)
      .catch((err: unknown) => log.error({ err }, 'draining the task runner failed'));
    await tasks?.close();
    await hosts.backends.hub.close();
    await hosts.engine.close();
  };

  for (const slot of slots) if (!later.includes(slot)) fork(slot);
  try {
    await started;
  } catch (err) {
    await stopWorkers();
    await closeHosts(0);
    throw err;
  }
  // Once started, a bug that escapes every handler here is logged, not a reason to end every worker.
  if (o.handleUncaughtErrors) new LastResort(log, 'primary').install();
  const at = address ?? { host: o.host, port: o.port };
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  let drained: Promise<void> | undefined;
  return {
    log,
    url: `${o.tls ? 'https' : 'http'}://${host}:${at.port}`,
    workers: count,
    drain() {
      drained ??= stopWorkers().then(() => closeHosts(o.drainWindowMs));
      return drained;
    },
  };
}

/**
 * The primary's stores: the SQLite engine behind an EngineHost (its own hub reaches it over a
 * MessageChannel, like a worker), the run store, the executor and the run service that applies
 * every run update (restart recovery included, once, here), and the per-IP limits.
 */
async function openHosts(options: ServerOptions, log: Logger): Promise<Hosts> {
  const o = resolveServerOptions(options);
  await mkdir(o.dataDir, { recursive: true });
  const engine = new EngineHost(
    new SqliteEngine({ file: join(o.dataDir, 'channels.db'), sync: o.sqliteSync, log }),
    log,
  );
  await engine.start();
  const { port1, port2 } = new MessageChannel();
  const gone = () => new WirehubError('internal', 'the primary closed its store');
  engine.attach(new RpcPeer(messagePortPort(port1), gone));
  const limits = new LimitStoreHost(new MemoryLimitStore());
  const backends = assembleBackends(
    resolveServerOptions({ ...options, engine: new IpcEngine(new RpcPeer(messagePortPort(port2), gone)) }),
    { log },
  );
  await backends.hub.start();
  const tasks = backends.tasks;
  let runs: RunStoreHost | undefined;
  let executor: ExecutorHost | undefined;
  if (tasks) {
    await tasks.start();
    runs = new RunStoreHost(tasks.store);
    await runs.start();
    executor = new ExecutorHost(tasks.executor, (ref) => tasks.runs.resolveTask(ref));
  }
  return { backends, engine, runs, executor, limits };
}
