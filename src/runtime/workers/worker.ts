import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { RpcPeer } from '../../engine/ipc/rpc.js';
import { WirehubError } from '../../protocol/errors.js';
import type { WorkerRole } from '../../server/backends.js';
import { WirehubServer } from '../../server/create-server.js';
import type { ServerOptions } from '../../server/options.js';
import { assembleBackends, loadRedisBackends } from '../backends.js';
import {
  CLUSTER_SERVICE,
  type ClusterMetrics,
  type WorkerCount,
  type WorkerStats,
} from './cluster-service.js';
import { workerSide } from './link.js';
import { workerPort } from './worker-port.js';

/**
 * One worker process of `wirehub serve --workers N` (started by the primary with
 * `node:cluster`): a whole HTTP/WebSocket server on the shared port, whose engine, run
 * store, executor and limits are the primary's, over IPC (with `redis`: a node of the Redis
 * cluster like any other). Not yet listening.
 *
 * @example
 * ```ts
 * if (cluster.isWorker) {
 *   const server = await createWorkerServer(options);
 *   await server.listen();
 * }
 * ```
 */
export async function createWorkerServer(options: ServerOptions): Promise<WirehubServer> {
  const worker = cluster.worker;
  if (!worker) throw new Error('createWorkerServer runs in a worker process of node:cluster');
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
  const port = workerPort();
  const server = new WirehubServer(port === undefined ? options : { ...options, port }, (resolved, log) => ({
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
  return server;
}
