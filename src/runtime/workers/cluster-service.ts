import type { WorkerCount } from '../../server/backends.js';

/**
 * The service name of the primary ↔ worker calls of `--workers` that are about the
 * processes themselves (not the stores): the worker count, the whole server's metrics, one
 * worker's connection count.
 */
export const CLUSTER_SERVICE = 'cluster';

/** The whole server's metrics as the primary aggregates them. */
export interface ClusterMetrics {
  contentType: string;
  text: string;
}

/**
 * What a worker pushes (event `listening`) once it accepts connections: the address it bound.
 * Told over the link rather than read from `node:cluster`'s 'listening' event, which Bun
 * does not emit for its native server.
 */
export interface WorkerListening {
  host: string;
  port: number;
}

/** What one worker tells the primary of itself. */
export interface WorkerStats {
  connections: number;
}

export type { WorkerCount };

/** Prometheus lines of the primary's own view: workers alive and wanted, restarts, connections per worker. */
export function workerMetricLines(
  count: WorkerCount,
  restarts: number,
  connections: ReadonlyMap<number, number>,
): string {
  const lines = [
    '# HELP wirehub_workers Worker processes of this server (--workers): alive and wanted',
    '# TYPE wirehub_workers gauge',
    `wirehub_workers{state="alive"} ${count.alive}`,
    `wirehub_workers{state="wanted"} ${count.wanted}`,
    '# HELP wirehub_worker_restarts_total Worker processes the primary restarted after they exited',
    '# TYPE wirehub_worker_restarts_total counter',
    `wirehub_worker_restarts_total ${restarts}`,
    '# HELP wirehub_worker_connections Open WebSocket connections per worker process',
    '# TYPE wirehub_worker_connections gauge',
  ];
  for (const [worker, n] of connections) lines.push(`wirehub_worker_connections{worker="${worker}"} ${n}`);
  return `${lines.join('\n')}\n`;
}
