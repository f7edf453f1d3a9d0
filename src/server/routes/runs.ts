import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { WirehubError } from '../../protocol/index.js';
import { assertMayRun, assertMaySeeRun, requesterOf, visibleRunsQuery } from '../../tasks/runs/run-access.js';
import type { RunService } from '../../tasks/runs/run-service.js';
import { RUN_STATUSES, type RunRecord } from '../../tasks/runs/types.js';
import { principalOf } from '../security/http-guard.js';

/** The run page: static HTML whose inline script follows the run over `/task-runner`. */
const RUN_PAGE_FILE = new URL('../../../web/run.html', import.meta.url);

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

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
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
  const visibleRun = (req: FastifyRequest, id: string, verb: 'see' | 'cancel'): RunRecord => {
    const record = runs.get(id);
    if (!record) throw new WirehubError('unknown_run', `no run ${id}`, { run_id: id });
    assertMaySeeRun(principalOf(req), record, verb);
    return record;
  };

  app.post('/api/runs/:project/:domain/:name/:version', async (req, reply) => {
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
    const url = runs.url(record.run_id, baseUrl(req));
    return reply
      .code(202)
      .header('Location', url)
      .send({ run_id: record.run_id, url, status: record.status });
  });

  app.get('/api/runs', async (req) => {
    const query = visibleRunsQuery(principalOf(req), parse(listQuery, req.query, 'query'));
    return { runs: query ? runs.list(query) : [] };
  });

  app.get('/api/runs/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'run id');
    const record = visibleRun(req, id, 'see');
    return { ...record, url: runs.url(id, baseUrl(req)), updates: runs.updates(id) };
  });

  app.post('/api/runs/:id/abort', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'run id');
    visibleRun(req, id, 'cancel');
    const record = await runs.cancel(id);
    return reply.code(202).send({ run_id: id, status: record.status, message: 'abort requested' });
  });

  app.get('/runs/:id', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'run id');
    reply.header('Content-Type', 'text/html; charset=utf-8').header('Cache-Control', 'no-store');
    if (!o.authEnabled && !runs.get(id)) {
      return reply
        .code(404)
        .send(
          `<!doctype html><meta charset="utf-8"><title>No such run</title><p>No run <code>${escapeHtml(id)}</code>.</p>`,
        );
    }
    return reply.send(page);
  });
}
