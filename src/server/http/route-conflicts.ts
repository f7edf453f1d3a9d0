import type { FastifyInstance } from 'fastify';
import { WirehubError } from '../../protocol/index.js';
import { assertNoBuiltinRoute, type BuiltinRoute, builtinRouteAt, routeShape } from './builtin-routes.js';

/**
 * Refuses your HTTP routes (`server.http.get(…)` before `listen()`) on the server's own paths
 * with a `route_conflict` error naming both, instead of Fastify's `FST_ERR_DUPLICATED_ROUTE`
 * from `listen()`:
 * - when you add one on a built-in path (`builtins`: the dashboard, its admin pages, `/metrics`,
 *   `/docs/*`, …), the call that adds it throws;
 * - under a shared prefix (`/api/*`) yours are fine, unless the server's own route there has
 *   the same method and path: then `listen()` throws, naming both.
 *
 * `isYours` tells a route of yours from the server's own (those are added by `listen()`).
 * Routes that plugins of yours add while `listen()` loads them are left to Fastify.
 *
 * @example
 * ```ts
 * installRouteConflictCheck(app, builtinRoutes({ dashboard: '/', tasks: true }), () => !started);
 * app.get('/metrics', handler); // WirehubError route_conflict: … collides with the Prometheus metrics …
 * ```
 */
export function installRouteConflictCheck(
  app: FastifyInstance,
  builtins: readonly BuiltinRoute[],
  isYours: () => boolean,
): void {
  /** Your routes by `METHOD shape`, with the path you gave. */
  const yours = new Map<string, string>();
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat().map((m) => m.toUpperCase());
    const keys = methods.map((m) => `${m} ${routeShape(route.url)}`);
    if (isYours()) {
      assertNoBuiltinRoute(route.url, builtins, `the HTTP route ${methods.join(',')} ${route.url}`, {
        http: true,
      });
      for (const key of keys) yours.set(key, route.url);
      return;
    }
    for (const [i, key] of keys.entries()) {
      const path = yours.get(key);
      if (path === undefined) continue;
      const what = builtinRouteAt(route.url, builtins)?.what ?? "one of the server's own routes";
      throw new WirehubError(
        'route_conflict',
        `the HTTP route ${methods[i]} ${path} collides with ${what} at ${methods[i]} ${route.url}: serve it at another path`,
        { path, builtin: route.url },
      );
    }
  });
}
