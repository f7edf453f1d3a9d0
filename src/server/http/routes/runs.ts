import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { WirehubError } from '../../../protocol/index.js';
import {
  assertMayRun,
  assertMaySeeRun,
  requesterOf,
  visibleRunsQuery,
} from '../../../tasks/runs/run-access.js';
import type { RunService } from '../../../tasks/runs/run-service.js';
import { RUN_STATUSES, type RunRecord } from '../../../tasks/runs/types.js';
import { principalOf } from '../../security/http-guard.js';
import { PAGE } from '../../security/security-headers.js';
import { runDetailDoc, runRecordDoc } from '../openapi/response-schemas.js';
import {
  BEARER,
  docSchema,
  documented,
  errorResponses,
  GUARDED_ERRORS,
  jsonResponse,
  textResponse,
} from '../openapi/route-docs.js';
import { sendNotFoundPage } from './web.js';

/** The run page: static HTML whose script (`/assets/run.js`) follows the run over `/task-runner`. */
const RUN_PAGE_FILE = new URL('../../../../web/run.html', import.meta.url);

const MAX_LIST = 500;

const listQuery = z.object({
  status: z.enum(RUN_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST).default(50),
});

const taskParams = z.object({
  project: z.string(),
  domain: z.string(),
  name: z.string(),
  version: z.string(),
});
const idParams = z.object({ id: z.string().min(1).max(200) });

const runStatus = z.enum(RUN_STATUSES);

/** The OpenAPI description of the run routes; zod above stays their validator. */
const docs = {
  start: documented({
    summary: 'Start a run',
    description:
      "Starts a run of the task `project/domain/name` at `version` (`latest` for the highest) with the body as its inputs. Needs the task grant (checked before the task is looked up). Answers 202 at once with a `Location` header: follow the run at `GET /api/runs/{id}`, on channel `run:<id>`, or over `/task-runner`. The inputs are checked against the task's inputs schema (`invalid_inputs`).",
    tags: ['runs'],
    security: BEARER,
    params: docSchema(taskParams),
    body: {
      type: 'object',
      additionalProperties: true,
      description: "The task's inputs (see its `inputs` schema in `GET /api/tasks`); none is `{}`.",
    },
    response: {
      202: {
        ...jsonResponse(
          'Started (queued).',
          z.object({
            run_id: z.string(),
            url: z
              .string()
              .describe("The run's URL: its page here, or the Flyte console's page of a Flyte run."),
            status: runStatus,
          }),
        ),
        headers: { Location: { type: 'string', description: 'The run page (here).' } },
      },
      ...errorResponses(
        'bad_request',
        'invalid_inputs',
        ...GUARDED_ERRORS,
        'unknown_task',
        'too_many_runs',
        'queue_full',
        'not_ready',
      ),
    },
  }),
  list: documented({
    summary: 'List runs',
    description:
      'The newest runs the caller may see (those of tasks it may run that it started, or all of them with the `allRuns` grant), optionally of one status.',
    tags: ['runs'],
    security: BEARER,
    querystring: docSchema(listQuery),
    response: {
      200: jsonResponse('The runs, newest first.', z.object({ runs: z.array(runRecordDoc) })),
      ...errorResponses('bad_request', ...GUARDED_ERRORS),
    },
  }),
  get: documented({
    summary: 'Read a run',
    description: 'The run, the URL of its page, and every update so far. Needs to be allowed to see the run.',
    tags: ['runs'],
    security: BEARER,
    params: docSchema(idParams),
    response: {
      200: jsonResponse('The run.', runDetailDoc),
      ...errorResponses('bad_request', ...GUARDED_ERRORS, 'unknown_run'),
    },
  }),
  abort: documented({
    summary: 'Abort a run',
    description:
      'Asks a run to stop: a queued run ends ABORTED at once, a running one when its task stops. Needs to be allowed to see (cancel) the run.',
    tags: ['runs'],
    security: BEARER,
    params: docSchema(idParams),
    response: {
      202: jsonResponse(
        'Abort requested.',
        z.object({ run_id: z.string(), status: runStatus, message: z.string() }),
      ),
      ...errorResponses('bad_request', ...GUARDED_ERRORS, 'unknown_run', 'run_finished'),
    },
  }),
  page: documented({
    summary: 'The run page',
    description:
      'HTML for browsers: a static shell whose script follows the run with a token taken from the URL fragment (`/runs/{id}#access_token=…`). With auth on it is served for any id; with auth off an unknown id is 404.',
    tags: ['web'],
    params: docSchema(idParams),
    response: {
      200: textResponse('The page.', 'text/html'),
      404: textResponse('No such run (auth off only).', 'text/html'),
      ...errorResponses('bad_request'),
    },
  }),
};

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  throw new WirehubError('bad_request', `bad ${what}: ${where}${first?.message ?? 'invalid'}`, {
    issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), code: i.code, message: i.message })),
  });
}

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

/**
 * The run API: start (`POST /api/runs/{project}/{domain}/{name}/{version}`, body = inputs),
 * read (`GET /api/runs/{id}` with its updates), list (`GET /api/runs?status=&limit=`),
 * abort (`POST /api/runs/{id}/abort`), and the run page `GET /runs/{id}`. Starting needs the
 * task grant; reading and aborting a run need `maySeeRun` (its task's grant, and having
 * started it or the `allRuns` grant); the list holds only runs the caller may see.
 *
 * The run page is a static shell with no run data in it: its script reads the run over the
 * authenticated API and `/task-runner`, with a token it takes from the page URL's fragment
 * (`/runs/{id}#access_token=…`, never sent to the server). With auth on it is served for any
 * id, so it is no oracle for which runs exist.
 */
export function installRunRoutes(app: FastifyInstance, runs: RunService, o: { authEnabled: boolean }): void {
  const page = readFileSync(RUN_PAGE_FILE, 'utf8');

  /** The run, if the caller may see it: `unknown_run` or `forbidden` otherwise. */
  const visibleRun = async (req: FastifyRequest, id: string, verb: 'see' | 'cancel'): Promise<RunRecord> => {
    const record = await runs.get(id);
    if (!record) throw new WirehubError('unknown_run', `no run ${id}`, { run_id: id });
    assertMaySeeRun(principalOf(req), record, verb);
    return record;
  };

  app.post('/api/runs/:project/:domain/:name/:version', docs.start, async (req, reply) => {
    const ref = parse(taskParams, req.params, 'task');
    const principal = principalOf(req);
    assertMayRun(principal, ref);
    if (
      req.body !== undefined &&
      (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))
    ) {
      throw new WirehubError('invalid_inputs', 'the request body must be a JSON object of inputs');
    }
    const record = await runs.run(ref, req.body ?? {}, requesterOf(principal));
    const url = runs.runUrl(record, baseUrl(req));
    return reply
      .code(202)
      .header('Location', runs.url(record.run_id, baseUrl(req)))
      .send({ run_id: record.run_id, url, status: record.status });
  });

  app.get('/api/runs', docs.list, async (req) => {
    const query = visibleRunsQuery(principalOf(req), parse(listQuery, req.query, 'query'));
    return { runs: query ? await runs.list(query) : [] };
  });

  app.get('/api/runs/:id', docs.get, async (req) => {
    const { id } = parse(idParams, req.params, 'run id');
    const record = await visibleRun(req, id, 'see');
    return { ...record, url: runs.runUrl(record, baseUrl(req)), updates: await runs.updates(id) };
  });

  app.post('/api/runs/:id/abort', docs.abort, async (req, reply) => {
    const { id } = parse(idParams, req.params, 'run id');
    await visibleRun(req, id, 'cancel');
    const record = await runs.cancel(id);
    return reply.code(202).send({ run_id: id, status: record.status, message: 'abort requested' });
  });

  app.get('/runs/:id', { ...docs.page, ...PAGE }, async (req, reply) => {
    const { id } = parse(idParams, req.params, 'run id');
    if (!o.authEnabled && !(await runs.get(id))) return sendNotFoundPage(reply, `There is no run ${id}.`);
    reply.header('Content-Type', 'text/html; charset=utf-8').header('Cache-Control', 'no-store');
    return reply.send(page);
  });
}
