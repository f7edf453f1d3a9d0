import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Hub } from '../../../hub/hub.js';
import { CloseCode, channelNameSchema } from '../../../protocol/index.js';
import type { AdminConnection } from '../../admin/admin-view.js';
import { type ClusterAdmin, MAX_CONNECTIONS_PER_NODE } from '../../admin/cluster-admin.js';
import { principalOf } from '../../security/http-guard.js';
import {
  BEARER,
  docSchema,
  documented,
  errorResponses,
  GUARDED_ERRORS,
  jsonResponse,
} from '../openapi/route-docs.js';
import { parseRequest } from './parse-request.js';

const missing = z.array(z.string()).describe('Live nodes that did not answer in time: their part is absent.');

const connection = z.object({
  node: z.string(),
  id: z.string(),
  endpoint: z.string(),
  user: z.string().optional(),
  remoteAddress: z.string(),
  connectedAt: z.string().describe('ISO 8601.'),
  channels: z.array(z.string()),
  queuedBytes: z.number().int(),
});

const channel = z.object({
  channel: z.string(),
  subscribers: z.number().int().describe('Subscribed connections on every node.'),
  nodes: z.number().int().describe('Nodes with subscribers.'),
  publicationRate: z.number().describe('Publications per second, over the last 10-20 s.'),
  presence: z.number().int().optional().describe('Members, on namespaces that track presence.'),
  history: z
    .object({ epoch: z.string(), offset: z.number().int() })
    .optional()
    .describe('Stream position, on namespaces that keep history.'),
});

const node = z.object({
  node: z.string(),
  startedAt: z.string(),
  connections: z.number().int(),
  channels: z.number().int(),
});

const connectionsQuery = z.strictObject({
  user: z.string().min(1).max(256).optional(),
  endpoint: z.string().min(1).max(64).optional(),
  channel: channelNameSchema.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_CONNECTIONS_PER_NODE).optional(),
});

/** Close codes an administrator may choose: the standard ones a server sends, or 4000–4999. */
const ADMIN_CLOSE_CODES = [
  CloseCode.Normal,
  CloseCode.GoingAway,
  CloseCode.Policy,
  CloseCode.Internal,
  CloseCode.Restart,
  CloseCode.TryAgainLater,
] as const;
const closeCode = z
  .number()
  .int()
  .refine((c) => (ADMIN_CLOSE_CODES as readonly number[]).includes(c) || (c >= 4000 && c <= 4999), {
    message: `expected ${ADMIN_CLOSE_CODES.join(', ')} or 4000-4999`,
  });

const disconnectBody = z.union([
  z.strictObject({
    client: z.string().min(1).max(128),
    code: closeCode.optional(),
    reason: z.string().max(120).optional(),
  }),
  z.strictObject({
    user: z.string().min(1).max(256),
    code: closeCode.optional(),
    reason: z.string().max(120).optional(),
  }),
]);

const ADMIN_ERRORS = [...GUARDED_ERRORS] as const;

const docs = {
  nodes: documented({
    summary: 'List the nodes',
    description:
      'Every live node (process) of this server: with `--redis`, every node on that Redis. Needs the `admin` grant.',
    tags: ['admin'],
    security: BEARER,
    response: {
      200: jsonResponse('The nodes.', z.object({ nodes: z.array(node), missing })),
      ...errorResponses(...ADMIN_ERRORS),
    },
  }),
  connections: documented({
    summary: 'List connections',
    description:
      'Open WebSocket connections on every node, oldest first, optionally only those of a user, an endpoint or a channel (`limit` per node). Needs the `admin` grant.',
    tags: ['admin'],
    security: BEARER,
    querystring: docSchema(connectionsQuery),
    response: {
      200: jsonResponse('The connections.', z.object({ connections: z.array(connection), missing })),
      ...errorResponses('bad_request', 'bad_channel', ...ADMIN_ERRORS),
    },
  }),
  channels: documented({
    summary: 'List channels',
    description:
      'Channels with subscribers on any node: subscribers, publication rate, and presence and history position where the namespace keeps them. Needs the `admin` grant.',
    tags: ['admin'],
    security: BEARER,
    response: {
      200: jsonResponse('The channels.', z.object({ channels: z.array(channel), missing })),
      ...errorResponses(...ADMIN_ERRORS),
    },
  }),
  disconnect: documented({
    summary: 'Disconnect clients',
    description:
      'Closes one connection (`client`) or every connection of a user (`user`) on every node, with `code` (default 1008) and `reason`. A client of the SDK reconnects unless the code is 1000 or 4001/4003. Needs the `admin` grant.',
    tags: ['admin'],
    security: BEARER,
    body: docSchema(disconnectBody),
    response: {
      200: jsonResponse(
        'How many connections were closed.',
        z.object({ disconnected: z.number().int(), missing }),
      ),
      ...errorResponses('bad_request', ...ADMIN_ERRORS),
    },
  }),
};

/**
 * The admin API (`/api/admin/*`, the `admin` grant): nodes, connections and channels of the
 * whole server, and disconnecting clients, through `ClusterAdmin` (every node answers).
 *
 * @example
 * ```sh
 * curl -H "authorization: Bearer $ADMIN_KEY" http://127.0.0.1:8080/api/admin/connections?user=alice
 * curl -XPOST -H "authorization: Bearer $ADMIN_KEY" -H 'content-type: application/json' \
 *   -d '{"user":"alice","code":4003,"reason":"banned"}' http://127.0.0.1:8080/api/admin/disconnect
 * ```
 */
export function installAdminRoutes(app: FastifyInstance, admin: ClusterAdmin, hub: Hub): void {
  app.get('/api/admin/nodes', docs.nodes, async (req) => {
    principalOf(req).permissions.assert('admin');
    const { answers, missing } = await admin.snapshots({ limit: 1 });
    const nodes = answers.map(({ node: id, result }) => ({
      node: id,
      startedAt: result.startedAt,
      connections: result.connectionCount,
      channels: result.channels.length,
    }));
    return { nodes, missing };
  });

  app.get('/api/admin/connections', docs.connections, async (req) => {
    principalOf(req).permissions.assert('admin');
    const query = parseRequest(connectionsQuery, req.query, 'connections query');
    const { answers, missing } = await admin.snapshots(query);
    const connections: AdminConnection[] = answers.flatMap((a) => a.result.connections);
    connections.sort((a, b) => a.connectedAt.localeCompare(b.connectedAt));
    return { connections, missing };
  });

  app.get('/api/admin/channels', docs.channels, async (req) => {
    principalOf(req).permissions.assert('admin');
    const { answers, missing } = await admin.snapshots({ limit: 1 });
    const merged = new Map<string, z.infer<typeof channel>>();
    for (const { result } of answers) {
      for (const share of result.channels) {
        const entry = merged.get(share.channel) ?? {
          channel: share.channel,
          subscribers: 0,
          nodes: 0,
          publicationRate: 0,
        };
        entry.subscribers += share.subscribers;
        entry.nodes += 1;
        // Every node receives every publication of a channel it serves: the rate is the highest.
        entry.publicationRate = Math.max(
          entry.publicationRate,
          Math.round(share.publicationRate * 100) / 100,
        );
        merged.set(share.channel, entry);
      }
    }
    const channels = [...merged.values()].sort((a, b) => b.subscribers - a.subscribers);
    await Promise.all(channels.map((c) => describeChannel(hub, c)));
    return { channels, missing };
  });

  app.post('/api/admin/disconnect', docs.disconnect, async (req) => {
    principalOf(req).permissions.assert('admin');
    const body = parseRequest(disconnectBody, req.body ?? {}, 'disconnect body');
    const target = 'client' in body ? { client: body.client } : { user: body.user };
    const { answers, missing } = await admin.disconnect(
      target,
      body.code ?? CloseCode.Policy,
      body.reason ?? 'disconnected by an administrator',
    );
    return { disconnected: answers.reduce((sum, a) => sum + a.result, 0), missing };
  });
}

/** Adds presence and history position where the channel's namespace keeps them. */
async function describeChannel(hub: Hub, entry: z.infer<typeof channel>): Promise<void> {
  const ns = hub.namespaces.find(entry.channel);
  if (!ns) return;
  try {
    if (ns.presence) entry.presence = (await hub.presence(entry.channel)).length;
    if (ns.history) {
      const position = await hub.position(entry.channel);
      if (position) entry.history = position;
    }
  } catch {
    // A broker that is down leaves these out; the counts above are this server's own.
  }
}
