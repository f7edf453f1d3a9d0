import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { DOCS_PREFIX } from '../builtin-routes.js';
import { answerNotFound } from '../http-errors.js';
import { BEARER_SCHEME, docSchema, ERROR_SCHEMA_ID, httpErrorSchema } from './route-docs.js';

const PACKAGE = new URL('../../../../package.json', import.meta.url);
/** `web/`: the wirehub icon and the bar Swagger UI shows on top. */
const WEB_DIR = new URL('../../../../web/', import.meta.url);

const TAGS = [
  { name: 'health', description: 'Probes and Prometheus metrics.' },
  { name: 'channels', description: 'Publish to channels, read their history and presence.' },
  { name: 'tasks', description: 'The tasks the caller may run.' },
  { name: 'runs', description: 'Start, follow and abort task runs.' },
  {
    name: 'admin',
    description:
      'Every node, connection and channel of the server; disconnecting clients (the `admin` grant).',
  },
  { name: 'web', description: 'The dashboard, its assets and status, and the run page.' },
  {
    name: 'websocket',
    description:
      'WebSocket endpoints: a plain GET answers 426; connect with a WebSocket client (see docs/protocol.md and docs/asyncapi.yaml).',
  },
];

/**
 * Serves the HTTP API as an OpenAPI 3 document at `GET /docs/json` and Swagger UI at
 * `GET /docs` (public: they show the API's shape, no data). Await it before adding routes:
 * the document lists the routes added after it, with the `schema` each one carries (see
 * `documented`).
 *
 * @example
 * ```ts
 * await installApiDocs(app);
 * app.get('/healthz', documented({ tags: ['health'] }), async () => ({ status: 'ok' }));
 * ```
 */
export async function installApiDocs(app: FastifyInstance): Promise<void> {
  const { version } = JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string };
  app.addSchema({ $id: ERROR_SCHEMA_ID, ...docSchema(httpErrorSchema, 'output') });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'wirehub',
        version,
        description:
          'The HTTP API of a wirehub server. Errors answer `{"error":{"code","message","details?"}}` with a code of the error catalog (docs/errors.md). With auth on, `/api/*` and `/metrics` need `Authorization: Bearer <jwt|api-key>`; with auth off `/api/*` answers clients on the loopback only.',
      },
      tags: TAGS,
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description: 'A JWT or an API key, needed when the server runs with auth on.',
          },
        },
      },
    },
    // Shared schemas keep their own names under components/schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  // Swagger UI (its pages, assets and the document's routes) is its own small app, built on
  // the first request under /docs: registering it costs an idle server ~4 MB (Bun) it may
  // never use. The document is the one @fastify/swagger above makes of this app's routes.
  let ui: Promise<FastifyInstance> | undefined;
  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    ui ??= docsApp(() => app.swagger() as Record<string, unknown>).catch((err: unknown) => {
      ui = undefined;
      throw err;
    });
    const res = await (await ui).inject({
      method: req.method as 'GET',
      url: req.url,
      headers: req.headers,
    });
    // What Swagger UI does not have is a 404 as anywhere else (its app's own words are Fastify's).
    if (res.statusCode === 404) return answerNotFound(req, reply);
    // The Swagger UI page gets the pages' security headers (its other routes are files).
    const path = req.url.split('?')[0];
    if (path === DOCS_PREFIX || path === `${DOCS_PREFIX}/`) reply.helmet();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      reply.header(name, value);
    }
    reply.code(res.statusCode);
    // A redirect has no body, and gets no content type either.
    return res.rawPayload.byteLength > 0 ? reply.send(res.rawPayload) : reply.send();
  };
  for (const url of [DOCS_PREFIX, `${DOCS_PREFIX}/*`]) app.get(url, { schema: { hide: true } }, serve);
}

/** Headers of the inner answer that belong to its connection, not to the answer. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

/** Swagger UI under /docs, serving `document` (read once, when the UI is first asked for). */
async function docsApp(document: () => Record<string, unknown>): Promise<FastifyInstance> {
  const { default: swaggerUi } = await import('@fastify/swagger-ui');
  const ui = Fastify({ logger: false });
  // The document is complete: the outer app is ready (no route can be added any more).
  await ui.register(swagger, { mode: 'static', specification: { document: document() as never } });
  await ui.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // wirehub's icon and a bar with a link back to the dashboard instead of Fastify's icon.
    theme: {
      title: 'wirehub API',
      favicon: [
        {
          filename: 'favicon.svg',
          rel: 'icon',
          sizes: 'any',
          type: 'image/svg+xml',
          content: readFileSync(new URL('favicon.svg', WEB_DIR)),
        },
      ],
      css: [{ filename: 'wirehub.css', content: readFileSync(new URL('docs-theme.css', WEB_DIR), 'utf8') }],
      js: [{ filename: 'wirehub.js', content: readFileSync(new URL('docs-theme.js', WEB_DIR), 'utf8') }],
    },
    // Without the top bar: its logo is an SVG with an inline <style>, which the pages' CSP
    // (style-src 'self') refuses, and its box would load other documents.
    uiConfig: { layout: 'BaseLayout' },
    uiHooks: {
      // @fastify/swagger-ui (6.1.3) sends `${DOCS_PREFIX}/static/index.html` to the page by
      // rewriting the URL's end; with a query string nothing is rewritten and it redirects to
      // itself forever. Answer that route here, for any query, before its handler runs.
      onRequest: async (req, reply) => {
        if (req.routeOptions.url === `${DOCS_PREFIX}/static/index.html`)
          return reply.redirect(`${DOCS_PREFIX}/`);
      },
    },
  });
  await ui.ready();
  return ui;
}
