import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WirehubError } from '../../../protocol/index.js';
import type { ServerMetrics } from '../../metrics.js';
import { principalOf } from '../../security/http-guard.js';
import { PAGE } from '../../security/security-headers.js';
import { ADMIN_PAGES, type ICON_PATHS } from '../builtin-routes.js';
import { serverStatusDoc } from '../openapi/response-schemas.js';
import {
  BEARER,
  documented,
  errorResponses,
  GUARDED_ERRORS,
  jsonResponse,
  textResponse,
} from '../openapi/route-docs.js';

/** `web/` (the dashboard page) and `dist/web/` (what `npm run build` bundles for browsers). */
const WEB_DIR = new URL('../../../../web/', import.meta.url);
const BUILT_DIR = new URL('../../../../dist/web/', import.meta.url);

const JS = 'text/javascript; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** The only files served: a fixed list, so no request path ever reaches the file system. */
const ASSETS: Record<string, { dir: URL; type: string }> = {
  'wirehub-client.js': { dir: BUILT_DIR, type: JS },
  'wirehub-client.js.map': { dir: BUILT_DIR, type: JSON_TYPE },
  'dashboard.js': { dir: BUILT_DIR, type: JS },
  'dashboard.js.map': { dir: BUILT_DIR, type: JSON_TYPE },
  'dashboard.css': { dir: WEB_DIR, type: 'text/css; charset=utf-8' },
  'run.js': { dir: WEB_DIR, type: JS },
  'run.css': { dir: WEB_DIR, type: 'text/css; charset=utf-8' },
};

/** The site icon: an SVG for `<link rel=icon>`, and the same drawn as an ICO for `/favicon.ico`. */
const ICONS: Record<(typeof ICON_PATHS)[number], { file: string; type: string }> = {
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  '/favicon.ico': { file: 'favicon.ico', type: 'image/x-icon' },
};

/** The OpenAPI description of the web routes. */
const docs = {
  dashboard: documented({
    summary: 'The dashboard',
    description: 'An HTML page to try the endpoints, channels and tasks from a browser.',
    tags: ['web'],
    response: { 200: textResponse('The page.', 'text/html') },
  }),
  adminPage: documented({
    summary: 'A dashboard admin page',
    description:
      'Connections (with Disconnect), Channels and Nodes: the dashboard page, which reads the admin API (`/api/admin/*`, the `admin` grant) with the token pasted in it.',
    tags: ['web'],
    response: { 200: textResponse('The page.', 'text/html') },
  }),
  icon: documented({
    summary: 'The site icon',
    tags: ['web'],
    response: { 200: textResponse('The icon.', 'image/svg+xml', 'image/x-icon') },
  }),
  asset: documented({
    summary: 'A dashboard asset',
    description: `One of a fixed list of files: ${Object.keys(ASSETS)
      .map((n) => `\`${n}\``)
      .join(', ')}. \`wirehub-client.js\` is the client SDK as one ES module.`,
    tags: ['web'],
    params: {
      type: 'object',
      properties: { name: { type: 'string', enum: Object.keys(ASSETS) } },
      required: ['name'],
    },
    response: {
      200: textResponse(
        'The file.',
        ...new Set(Object.values(ASSETS).map((a) => a.type.split(';')[0] ?? a.type)),
      ),
      ...errorResponses('not_found'),
    },
  }),
  status: documented({
    summary: 'Server status',
    description:
      'Connections and message counts per endpoint, as the dashboard shows them. Needs the `metrics` grant.',
    tags: ['web'],
    security: BEARER,
    response: { 200: jsonResponse('The status.', serverStatusDoc), ...errorResponses(...GUARDED_ERRORS) },
  }),
};

/** What the status route reports besides the per-endpoint counters. */
export interface StatusSource {
  metrics: ServerMetrics;
  connections(): number;
  queuedBytes(): number;
  draining(): boolean;
  authEnabled: boolean;
  tasksEnabled: boolean;
  /** Where the dashboard page is served (`/` by default), or false when it is off. */
  dashboardPath: string | false;
}

/**
 * The dashboard (`GET /`, or the path of the `dashboard` option; none when it is false), its assets (`GET /assets/<name>`, among them the client SDK as one
 * ES module: `/assets/wirehub-client.js`), and `GET /api/status`: connections and message
 * counts per endpoint as JSON (behind the API guard, with the `metrics` grant).
 */
export function installWebRoutes(app: FastifyInstance, status: StatusSource): void {
  const startedAt = Date.now();

  const dashboard = async (_req: FastifyRequest, reply: FastifyReply) => {
    const page = await readFile(new URL('index.html', WEB_DIR), 'utf8');
    return reply
      .header('Content-Type', 'text/html; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .send(page);
  };
  if (status.dashboardPath !== false) {
    app.get(status.dashboardPath, { ...docs.dashboard, ...PAGE }, dashboard);
    for (const name of ADMIN_PAGES) app.get(`/admin/${name}`, { ...docs.adminPage, ...PAGE }, dashboard);
  }

  for (const [path, icon] of Object.entries(ICONS)) {
    app.get(path, docs.icon, async (_req, reply) => {
      const body = await readFile(new URL(icon.file, WEB_DIR));
      return reply.header('Content-Type', icon.type).header('Cache-Control', 'max-age=86400').send(body);
    });
  }

  app.get('/assets/:name', docs.asset, async (req, reply) => {
    const { name } = req.params as { name: string };
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new WirehubError('not_found', `no asset ${name}`);
    let body: Buffer;
    try {
      body = await readFile(new URL(name, asset.dir));
    } catch {
      throw new WirehubError('not_found', `${name} is not built: run npm run build`);
    }
    return reply.header('Content-Type', asset.type).header('Cache-Control', 'no-cache').send(body);
  });

  app.get('/api/status', docs.status, async (req) => {
    principalOf(req).permissions.assert('metrics');
    const endpoints: Record<string, Record<string, number>> = {};
    for (const [name, s] of status.metrics.endpointStats()) {
      endpoints[name] = {
        connections: s.open,
        accepted: s.accepted,
        messages_in: s.messagesIn,
        messages_out: s.messagesOut,
        bytes_in: s.bytesIn,
        bytes_out: s.bytesOut,
        slow_drops: s.drops,
        slow_disconnects: s.slowDisconnects,
      };
    }
    return {
      status: status.draining() ? 'draining' : 'ready',
      uptime_ms: Date.now() - startedAt,
      auth: status.authEnabled,
      tasks: status.tasksEnabled,
      connections: status.connections(),
      queued_bytes: status.queuedBytes(),
      endpoints,
    };
  });
}

/** The styled 404 page, with `{{message}}` where the reason goes. */
let notFoundTemplate: string | undefined;

/**
 * Whether a not-found answer should be the HTML page rather than the catalog's JSON: a
 * browser navigating (GET or HEAD, `Accept` names `text/html`) to anything outside `/api/`.
 */
export function wantsHtmlPage(req: FastifyRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.url.startsWith('/api/')) return false;
  const accept = req.headers.accept;
  return typeof accept === 'string' && /\btext\/html\b/i.test(accept);
}

/**
 * Answers 404 with the styled HTML page: `message` (escaped) and a link home to the dashboard,
 * under the pages' security headers.
 *
 * @example
 * ```ts
 * if (wantsHtmlPage(req)) return sendNotFoundPage(reply, `No run ${id}.`);
 * ```
 */
export function sendNotFoundPage(reply: FastifyReply, message: string): FastifyReply {
  notFoundTemplate ??= readFileSync(new URL('404.html', WEB_DIR), 'utf8');
  // The pages' CSP (helmet's, registered by installSecurityHeaders) instead of the fixed
  // `default-src 'none'`, which would refuse the page its stylesheet.
  if (typeof reply.helmet === 'function') reply.helmet();
  return reply
    .code(404)
    .header('Content-Type', 'text/html; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .send(notFoundTemplate.replace('{{message}}', () => escapeHtml(message)));
}

/** Text made safe to put between HTML tags and in attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
