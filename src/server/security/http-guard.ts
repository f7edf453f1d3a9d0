import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../hub/principal.js';
import { WirehubError } from '../../protocol/index.js';
import type { Authenticator } from './authenticator.js';
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
 * Missing or bad credentials answer 401 with a `WWW-Authenticate` challenge.
 */
export function makeGuard(auth: Authenticator, check?: GuardCheck) {
  return async function guard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    let principal = principals.get(req);
    if (!principal) {
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

/** Loopback addresses: 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/**
 * Guards the HTTP API: every `/api/*` route needs credentials when auth is on (routes then
 * check permissions with `principalOf(req).permissions.assert(…)`); with auth off it answers
 * clients on this machine only, so a server bound to a public address without auth does not
 * hand its publish and run APIs to the network. `/metrics` needs an API key or a JWT granting
 * `metrics` when auth is on, unless `publicMetrics`. `/healthz` and `/readyz` stay open.
 */
export function installHttpGuard(
  app: FastifyInstance,
  auth: Authenticator,
  o: { publicMetrics: boolean },
): void {
  const api = makeGuard(auth, (_principal, req) => {
    // `req.ip` honours --trust-proxy: a remote client behind a local proxy is still remote.
    if (!auth.enabled && !isLoopback(req.ip)) {
      throw new WirehubError(
        'forbidden',
        'with auth off the HTTP API only answers clients on this machine (loopback); turn auth on to open it',
        { reason: 'loopback_only' },
      );
    }
  });
  const metrics = makeGuard(auth, (p) => p.permissions.assert('metrics'));
  app.addHook('onRequest', async (req, reply) => {
    // Judge by the route that matched, not the raw URL: `/%61pi/x` routes to `/api/x`.
    const path = req.routeOptions.url ?? '';
    if (path === '/api' || path.startsWith('/api/')) return api(req, reply);
    if (path === '/metrics' && !o.publicMetrics) return metrics(req, reply);
  });
}
