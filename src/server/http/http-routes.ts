import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EndpointDefinition } from '../../endpoints/endpoint.js';
import { WirehubError } from '../../protocol/index.js';
import type { WorkerRole } from '../backends.js';
import type { ServerMetrics } from '../metrics.js';
import { BEARER, documented, errorResponses, jsonResponse, textResponse } from './openapi/route-docs.js';

const workersBody = z
  .object({ alive: z.number().int(), wanted: z.number().int() })
  .describe('With `--workers`: worker processes running and wanted');
const healthBody = (status: string) =>
  z.object({
    status: z.literal(status),
    worker: z.number().int().optional().describe('With `--workers`: the worker that answered'),
    workers: workersBody.optional(),
  });

/**
 * `/healthz`, `/readyz` and `/metrics`. `notReady` says why the node should get no new
 * traffic (draining, broker link down, a store failing), or undefined when it is ready. With
 * `worker` (one process of `--workers`), the probes name the worker and count the workers,
 * and `/metrics` is the whole server's.
 */
export function installOpsRoutes(
  app: FastifyInstance,
  metrics: ServerMetrics,
  notReady: () => string | undefined,
  worker?: WorkerRole,
): void {
  const about = () => (worker ? { worker: worker.id, workers: worker.workers() } : {});
  const health = (summary: string, description: string, response: Record<number, unknown>) =>
    documented({ summary, description, tags: ['health'], response });
  app.get(
    '/healthz',
    health('Liveness', 'Answers 200 while the process is alive. Open, even with auth on.', {
      200: jsonResponse('Alive.', healthBody('ok')),
    }),
    async () => ({ status: 'ok', ...about() }),
  );
  const readiness = health(
    'Readiness',
    'Answers 200 while this node takes new traffic; 503 `not_ready` (with the reason) while it drains, (with `--redis`) while its link to Redis is down, or while a store file (channels.db, runs.db) fails or is damaged. Open, even with auth on.',
    { 200: jsonResponse('Ready.', healthBody('ready')), ...errorResponses('not_ready') },
  );
  app.get('/readyz', readiness, async (_req, reply) => {
    const reason = notReady();
    if (reason === undefined) return { status: 'ready', ...about() };
    return reply.code(503).send({ error: new WirehubError('not_ready', reason).toJSON(), ...about() });
  });
  const scrape = documented({
    summary: 'Prometheus metrics',
    description:
      'Prometheus text exposition. With auth on it needs an API key or a JWT granting `metrics`, unless the server runs with `--public-metrics`.',
    tags: ['health'],
    security: BEARER,
    response: {
      200: textResponse('The metrics.', 'text/plain'),
      ...errorResponses('unauthorized', 'forbidden'),
    },
  });
  app.get('/metrics', scrape, async (_req, reply) => {
    if (worker) {
      const all = await worker.metrics();
      reply.header('Content-Type', all.contentType);
      return all.text;
    }
    reply.header('Content-Type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

/** A plain GET on a WebSocket path answers 426 and says how to connect. */
export function installUpgradeRequiredRoutes(
  app: FastifyInstance,
  endpoints: EndpointDefinition<unknown>[],
): void {
  for (const endpoint of endpoints) {
    const doc = documented({
      summary: `WebSocket endpoint ${endpoint.name}`,
      description: `\`${endpoint.path}\` speaks WebSocket: connect with a WebSocket client (an HTTP/1.1 Upgrade). A plain GET answers 426 \`upgrade_required\`.`,
      tags: ['websocket'],
      response: errorResponses('upgrade_required'),
    });
    app.get(endpoint.path, doc, async (_req, reply) => {
      const err = new WirehubError(
        'upgrade_required',
        `${endpoint.path} is a WebSocket endpoint: connect with a WebSocket client (ws://…${endpoint.path})`,
      );
      return reply
        .code(426)
        .header('Upgrade', 'websocket')
        .header('Connection', 'Upgrade')
        .send({ error: err.toJSON() });
    });
  }
}
