import type { IncomingMessage } from 'node:http';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** A Host header that can only name a host (and port): nothing that could end a CSP directive. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

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
 * Security headers on every HTTP answer, by `@fastify/helmet`: pages (the dashboard, the run
 * page, Swagger UI at `/docs`) get a Content-Security-Policy that allows only this origin's
 * scripts, styles and sockets (no inline script: the pages load theirs from `/assets`),
 * `frame-ancestors 'none'` and `X-Frame-Options: DENY` (no other site can frame the run page
 * and its Cancel button), and every answer `X-Content-Type-Options: nosniff` and
 * `Referrer-Policy: no-referrer`. HSTS only with TLS: on plain http it means nothing, and a
 * TLS proxy in front sets its own.
 *
 * @example
 * ```ts
 * await installSecurityHeaders(app, { tls: false, host: (req) => req.headers.host });
 * ```
 */
export async function installSecurityHeaders(
  app: FastifyInstance,
  o: { tls: boolean; host: (req: IncomingMessage) => string | undefined },
): Promise<void> {
  await app.register(helmet, {
    global: true,
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
