import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { RpcPeer } from '../../engine/ipc/rpc.js';
import { WirehubError } from '../../protocol/errors.js';
import type { WorkerRole } from '../../server/backends.js';
import { WirehubServer } from '../../server/create-server.js';
import type { ServerOptions } from '../../server/options.js';
import { assembleBackends, loadRedisBackends } from '../backends.js';
import { defaultTransport } from '../create-server.js';
import {
  CLUSTER_SERVICE,
  type ClusterMetrics,
  type WorkerCount,
  type WorkerListening,
  type WorkerStats,
} from './cluster-service.js';
import { workerSide } from './link.js';
import { workerPort } from './worker-port.js';

/**
 * One worker process of `wirehub serve --workers N` (started by the primary with
 * `node:cluster`): a whole HTTP/WebSocket server on the shared port, whose engine, run
 * store, executor and limits are the primary's, over IPC (with `redis`: a node of the Redis
 * cluster like any other). Resolves once it listens and has told the primary so.
 *
 * @example
 * ```ts
 * if (cluster.isWorker) {
 *   const server = await startWorkerServer(options);
 *   process.once('SIGTERM', () => void server.drain().then(() => process.exit(0)));
 * }
 * ```
 */
export async function startWorkerServer(options: ServerOptions): Promise<WirehubServer> {
  const worker = cluster.worker;
  if (!worker) throw new Error('startWorkerServer runs in a worker process of node:cluster');
  const peer = new RpcPeer(
    workerSide(),
    () => new WirehubError('store_unavailable', 'the primary process of this server is gone'),
  );
  let count = await peer.call<WorkerCount>(CLUSTER_SERVICE, 'workers', []);
  peer.onPush(CLUSTER_SERVICE, (event, args) => {
    if (event === 'workers') count = args[0] as WorkerCount;
  });
  // Answers the primary's requests for this process's metrics (prom-client's cluster protocol).
  new AggregatorRegistry();
  const role: WorkerRole = {
    id: worker.id,
    workers: () => count,
    metrics: () => peer.call<ClusterMetrics>(CLUSTER_SERVICE, 'metrics', []),
  };
  const redis = options.redis === undefined ? undefined : await loadRedisBackends();
  // The transport a single process would have (Bun's native one under Bun), and under Bun with
  // port 0 the port the first worker bound.
  const port = workerPort();
  const chosen = { ...options, transport: options.transport ?? defaultTransport() };
  const server = new WirehubServer(port === undefined ? chosen : { ...chosen, port }, (resolved, log) => ({
    ...assembleBackends(resolved, { log, redis, primary: peer }),
    worker: role,
  }));
  AggregatorRegistry.setRegistries([server.metrics.registry]);
  // Without its link this worker can reach no store: rather than take clients it cannot serve,
  // it ends (they reconnect to the others) and the primary starts another in its place. Its
  // own drain closes the link too; that is not a break.
  peer.onClose(() => {
    if (server.isDraining) return;
    server.log.error({ worker: worker.id }, 'the link to the primary broke: this worker exits');
    void server.close().finally(() => process.exit(1));
  });
  peer.serve(CLUSTER_SERVICE, {
    stats: (): WorkerStats => ({ connections: server.connectionCount }),
  });
  const at = await server.listen();
  peer.push(CLUSTER_SERVICE, 'listening', [{ host: at.host, port: at.port } satisfies WorkerListening]);
  return server;
}
