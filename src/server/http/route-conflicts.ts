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
 * - a plugin of yours (`server.http.register(…)`) is loaded by `listen()`, after the server's
 *   own routes: a route of it with the method and path of one of them makes `listen()` throw.
 *
 * `isYours` tells a route of yours from the server's own (those are added by `listen()`).
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
  /** Routes added once `listen()` began (the server's own, then your plugins'), the same way. */
  const later = new Map<string, string>();
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
      // Fastify tells /docs from /docs/ (the shape does not): the exact path, params by shape.
      const exact = `${methods[i]} ${route.url.replace(/\/:[^/]+/g, '/:')}`;
      const earlier = later.get(exact);
      if (path === undefined && earlier !== undefined) {
        // The server adds each of its routes once: the second is a plugin's, loaded by listen().
        const what = builtinRouteAt(earlier, builtins)?.what ?? "one of the server's own routes";
        throw new WirehubError(
          'route_conflict',
          `the HTTP route ${methods[i]} ${route.url} (added by a plugin) collides with ${what} at ${methods[i]} ${earlier}: serve it at another path`,
          { path: route.url, builtin: earlier },
        );
      }
      later.set(exact, route.url);
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
