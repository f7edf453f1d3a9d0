import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { DOCS_PREFIX } from '../builtin-routes.js';
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
  await app.register(swaggerUi, {
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
        // The Swagger UI page gets the pages' security headers (its other routes are files).
        if (req.routeOptions.url === DOCS_PREFIX || req.routeOptions.url === `${DOCS_PREFIX}/`)
          reply.helmet();
      },
    },
  });
}
