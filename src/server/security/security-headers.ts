import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from '@fastify/helmet';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';

/** A Host header that can only name a host (and port): nothing that could end a CSP directive. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** HSTS for a server that speaks TLS itself: 180 days, this host only. */
const HSTS = 'max-age=15552000';

/**
 * Route options that give an HTML page the pages' policy. The dashboard and the run page use
 * them; so does a page of yours. It is `@fastify/helmet`'s per-route configuration, set as
 * route `config` (its `helmet` route option is read by a hook that only sees routes added
 * after the plugin loaded, which yours on `server.http` are not): to change the policy for
 * one page, pass `config: { helmet: { contentSecurityPolicy: … } }` instead.
 *
 * @example
 * ```ts
 * server.http.get('/app', { ...PAGE }, async (_req, reply) => reply.type('text/html').send(html));
 * ```
 */
// (Fastify's types do not list `helmet` among route config keys; the plugin reads it there.)
export const PAGE = { config: { helmet: {} } } as RouteShorthandOptions;

/**
 * The page's own WebSocket origins, for `connect-src`. CSP Level 3 lets `'self'` match them
 * already; this names them for browsers that do not. An odd Host adds nothing.
 */
function ownSockets(host: (req: IncomingMessage) => string | undefined) {
  return (req: IncomingMessage): string => {
    const h = host(req);
    return h && PLAIN_HOST.test(h) ? `ws://${h} wss://${h}` : "'self'";
  };
}

/**
 * Security headers on every HTTP answer. Pages (the dashboard, the run page, Swagger UI at
 * `/docs`, and any route with `PAGE` or its own `config.helmet`) get `@fastify/helmet`'s: a
 * Content-Security-Policy that allows only this origin's scripts, styles and sockets (no
 * inline script: the pages load theirs from `/assets`), `frame-ancestors 'none'` and
 * `X-Frame-Options: DENY` (no other site can frame the run page and its Cancel button),
 * `nosniff`, `Referrer-Policy: no-referrer`, COOP and CORP. Every other answer (the API,
 * assets, errors) gets a fixed set, written in one step: `nosniff`, `Referrer-Policy`, CORP,
 * and `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`, so an answer
 * opened as a document runs nothing and cannot be framed. (helmet on every answer builds its
 * middleware per request: measured, it took ~45% of a trivial route's throughput.) HSTS only
 * with TLS: on plain http it means nothing, and a TLS proxy in front sets its own.
 *
 * Call before any route is added.
 *
 * @example
 * ```ts
 * installSecurityHeaders(app, { tls: false, host: (req) => req.headers.host });
 * ```
 */
export function installSecurityHeaders(
  app: FastifyInstance,
  o: { tls: boolean; host: (req: IncomingMessage) => string | undefined },
): void {
  const fixed: [string, string][] = [
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['Cross-Origin-Resource-Policy', 'same-origin'],
    ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
    ...(o.tls ? [['Strict-Transport-Security', HSTS] as [string, string]] : []),
  ];
  // Added before helmet's own hooks, on the raw answer: a page's policy, set after it, wins.
  app.addHook('onRequest', (_req, reply, done) => {
    const res: ServerResponse = reply.raw;
    for (const [name, value] of fixed) res.setHeader(name, value);
    done();
  });
  void app.register(helmet, {
    // Only routes that ask (PAGE, `config.helmet`, or `reply.helmet()`) get the pages' policy.
    global: false,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        // Swagger UI draws its icons from data: URLs.
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'", ownSockets(o.host)],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // Never upgrade-insecure-requests: a server on plain http (a LAN address) would lose
        // its own scripts to an https:// that is not there.
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: o.tls ? { maxAge: 15_552_000, includeSubDomains: false } : false,
  });
}
