import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../hub/principal.js';
import { WirehubError } from '../../protocol/index.js';
import type { Authenticator } from './authenticator.js';
import { assertMayPassWithoutAuth } from './unauthenticated-access.js';
import { bearerToken } from './upgrade-security.js';

const principals = new WeakMap<FastifyRequest, Principal>();

/** What a guard checks beyond valid credentials; throw `WirehubError('forbidden')` to refuse. */
export type GuardCheck = (principal: Principal, req: FastifyRequest) => void | Promise<void>;

/** The `WWW-Authenticate` challenge sent with every 401. */
export const BEARER_CHALLENGE = 'Bearer realm="wirehub"';

/**
 * The principal of a request that went through a guard (every `/api/*` route does). Throws
 * when the route is not guarded, so a forgotten guard fails loudly instead of letting a
 * permission check pass on nothing.
 *
 * @example
 * ```ts
 * server.http.post('/api/publish', async (req) => {
 *   principalOf(req).permissions.assert('publish', channel);
 * });
 * ```
 */
export function principalOf(req: FastifyRequest): Principal {
  const principal = principals.get(req);
  if (!principal)
    throw new Error(`${req.method} ${req.routeOptions.url ?? req.url} is not behind an auth guard`);
  return principal;
}

/**
 * Makes a Fastify hook that authenticates the request (`Authorization: Bearer <jwt|api-key>`;
 * anonymous when auth is off), remembers its principal for `principalOf`, then runs `check`.
 * Missing or bad credentials answer 401 with a `WWW-Authenticate` challenge. With auth off a
 * guarded route answers clients on this machine only (see `assertMayPassWithoutAuth`).
 */
export function makeGuard(auth: Authenticator, check?: GuardCheck) {
  return async function guard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    let principal = principals.get(req);
    if (!principal) {
      // `req.ip` honours --trust-proxy: a remote client behind a local proxy is still remote.
      assertMayPassWithoutAuth(auth.enabled, req.ip, 'guarded-route');
      try {
        principal = await auth.authenticate(bearerToken(req.headers.authorization));
      } catch (err) {
        if (err instanceof WirehubError && err.code === 'unauthorized')
          reply.header('WWW-Authenticate', BEARER_CHALLENGE);
        throw err;
      }
      principals.set(req, principal);
    }
    if (check) await check(principal, req);
  };
}

/**
 * Guards the HTTP API: every `/api/*` route needs credentials when auth is on (routes then
 * check permissions with `principalOf(req).permissions.assert(…)`); with auth off it answers
 * clients on this machine only, as every guarded route does. `/metrics` is guarded too (it
 * needs an API key or a JWT granting `metrics`), unless `publicMetrics`. `/healthz` and
 * `/readyz` stay open.
 */
export function installHttpGuard(
  app: FastifyInstance,
  auth: Authenticator,
  o: { publicMetrics: boolean },
): void {
  const api = makeGuard(auth);
  const metrics = makeGuard(auth, (p) => p.permissions.assert('metrics'));
  app.addHook('onRequest', async (req, reply) => {
    // Judge by the route that matched, not the raw URL: `/%61pi/x` routes to `/api/x`.
    const path = req.routeOptions.url ?? '';
    if (path === '/api' || path.startsWith('/api/')) return api(req, reply);
    if (path === '/metrics' && !o.publicMetrics) return metrics(req, reply);
  });
}
