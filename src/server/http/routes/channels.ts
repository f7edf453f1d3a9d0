import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toRtPublication } from '../../../endpoints/rt/encoders.js';
import type { Hub } from '../../../hub/hub.js';
import { forbidden } from '../../../hub/permissions.js';
import {
  channelNameSchema,
  historyResult,
  presenceResult,
  publishResult,
  RT_HISTORY_MAX_LIMIT,
  WirehubError,
} from '../../../protocol/index.js';
import { maySeeRunChannel } from '../../../tasks/runs/run-access.js';
import type { RunService } from '../../../tasks/runs/run-service.js';
import { principalOf } from '../../security/http-guard.js';
import {
  BEARER,
  docSchema,
  documented,
  errorResponses,
  GUARDED_ERRORS,
  jsonResponse,
} from '../openapi/route-docs.js';
import { parseRequest as parse } from './parse-request.js';

const publishBody = z.strictObject({
  channel: channelNameSchema,
  data: z.unknown().refine((v) => v !== undefined, 'data is required'),
});

const historyQuery = z.strictObject({
  since: z.coerce.number().int().nonnegative().optional(),
  epoch: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(RT_HISTORY_MAX_LIMIT).optional(),
});

const channelParams = z.object({ channel: channelNameSchema });

/** The OpenAPI description of the channel routes; zod above stays their validator. */
const docs = {
  publish: documented({
    summary: 'Publish to a channel',
    description:
      'Publishes any JSON value to a channel: `/rt` subscribers and the plain endpoints of the same channel (`/chat/{room}`, `/broadcast`) get it. Needs the `publish` grant on the channel. On a channel that keeps history the answer has its position (`epoch`, `offset`).',
    tags: ['channels'],
    security: BEARER,
    body: docSchema(publishBody),
    response: {
      200: jsonResponse(
        'Published.',
        publishResult.extend({ id: z.string().describe('The publication id.'), channel: z.string() }),
      ),
      ...errorResponses(
        'bad_request',
        'bad_channel',
        'unknown_namespace',
        ...GUARDED_ERRORS,
        'broker_unavailable',
      ),
    },
  }),
  history: documented({
    summary: 'Read a channel history',
    description:
      'The newest `limit` publications, or those after the position `since`+`epoch` (give both or neither). `complete` is false when that position is no longer covered. Needs the `history` grant on the channel (or, for `run:<id>`, to be allowed to see the run).',
    tags: ['channels'],
    security: BEARER,
    params: docSchema(channelParams),
    querystring: docSchema(historyQuery),
    response: {
      200: jsonResponse('A page of history.', historyResult.extend({ channel: z.string() })),
      ...errorResponses('bad_request', 'bad_channel', 'unknown_namespace', 'not_enabled', ...GUARDED_ERRORS),
    },
  }),
  presence: documented({
    summary: 'List who is on a channel',
    description: "The channel's subscribers. Needs the `presence` grant on the channel.",
    tags: ['channels'],
    security: BEARER,
    params: docSchema(channelParams),
    response: {
      200: jsonResponse('The members.', presenceResult.extend({ channel: z.string() })),
      ...errorResponses('bad_channel', 'unknown_namespace', 'not_enabled', ...GUARDED_ERRORS),
    },
  }),
};

/**
 * The server publish API: `POST /api/publish {channel, data}`,
 * `GET /api/channels/:channel/history?since=&epoch=&limit=` and
 * `GET /api/channels/:channel/presence`. Publications reach `/rt` subscribers and the plain
 * endpoints of the same channel (`/chat/{room}`, `/broadcast`). The HTTP guard authenticates
 * every `/api/*` request (loopback only while auth is off); each route then checks the
 * principal's `publish` / `history` / `presence` grant for the channel (403 `forbidden`).
 *
 * @example
 * ```sh
 * curl -X POST http://127.0.0.1:8080/api/publish -H 'content-type: application/json' \
 *   -d '{"channel":"chat:lobby","data":"server says hi"}'
 * ```
 */
export function installChannelRoutes(app: FastifyInstance, hub: Hub, runs?: RunService): void {
  app.post('/api/publish', docs.publish, async (req) => {
    const body = parse(publishBody, req.body ?? {}, 'publish body');
    principalOf(req).permissions.assert('publish', body.channel);
    const pub = await hub.publish({ channel: body.channel, data: body.data });
    return {
      id: pub.id,
      channel: pub.channel,
      ...(pub.offset === undefined ? {} : { epoch: pub.epoch, offset: pub.offset }),
    };
  });

  app.get<{ Params: { channel: string } }>('/api/channels/:channel/history', docs.history, async (req) => {
    const channel = parse(channelNameSchema, req.params.channel, 'channel');
    // A run's channel is readable by whoever may see the run, as on /rt.
    const principal = principalOf(req);
    if (!principal.permissions.can('history', channel) && !(await maySeeRunChannel(principal, channel, runs)))
      throw forbidden('history', channel);
    const query = parse(historyQuery, req.query, 'history query');
    if ((query.since === undefined) !== (query.epoch === undefined)) {
      throw new WirehubError(
        'bad_request',
        'give since and epoch together (the position you last saw), or neither',
      );
    }
    const page = await hub.history(channel, {
      ...(query.since === undefined || query.epoch === undefined
        ? {}
        : { since: { epoch: query.epoch, offset: query.since } }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
    });
    return {
      channel,
      epoch: page.epoch,
      offset: page.offset,
      complete: page.complete,
      publications: page.publications.map(toRtPublication),
    };
  });

  app.get<{ Params: { channel: string } }>('/api/channels/:channel/presence', docs.presence, async (req) => {
    const channel = parse(channelNameSchema, req.params.channel, 'channel');
    principalOf(req).permissions.assert('presence', channel);
    return { channel, members: await hub.presence(channel) };
  });
}
