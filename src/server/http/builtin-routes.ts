import { WirehubError } from '../../protocol/index.js';

/** Where Swagger UI is served; the document is at `${DOCS_PREFIX}/json` (and `/yaml`). */
export const DOCS_PREFIX = '/docs';

/** The dashboard's admin pages (`/admin/<name>`): the dashboard's page, which shows the one its path names. */
export const ADMIN_PAGES = ['connections', 'channels', 'nodes'] as const;

/** The site icons the server serves at the root. */
export const ICON_PATHS = ['/favicon.svg', '/favicon.ico'] as const;

/** A path the server serves itself: exactly `path`, or (`under`) also every path below it. */
export interface BuiltinRoute {
  path: string;
  /** What serves it, for error messages: "the dashboard", "the readiness probe", … */
  what: string;
  under?: boolean;
  /**
   * Your own HTTP routes may go under it (`/api/*`: the API guard covers them); only the
   * server's own paths there are taken, and those are checked route by route.
   */
  shared?: boolean;
}

/**
 * The paths the server's own HTTP routes take (listen() installs them), as data: a user's
 * endpoint on one of them would collide with a built-in route (Fastify refuses the second
 * one when the server starts) or shadow it.
 */
export function builtinRoutes(o: { dashboard: string | false; tasks: boolean }): BuiltinRoute[] {
  const routes: BuiltinRoute[] = [
    { path: '/healthz', what: 'the liveness probe' },
    { path: '/readyz', what: 'the readiness probe' },
    { path: '/metrics', what: 'the Prometheus metrics' },
    { path: DOCS_PREFIX, what: 'the API documentation', under: true },
    { path: '/api', what: 'the HTTP API', under: true, shared: true },
    { path: '/assets', what: "the dashboard's assets and the client SDK", under: true },
    ...ICON_PATHS.map((path) => ({ path, what: 'the site icon' })),
  ];
  if (o.tasks) routes.push({ path: '/runs', what: 'the run pages', under: true });
  if (o.dashboard !== false) {
    routes.push({ path: o.dashboard, what: 'the dashboard' });
    for (const page of ADMIN_PAGES)
      routes.push({ path: `/admin/${page}`, what: "the dashboard's admin pages" });
  }
  return routes;
}

/** Path segments with every parameter (`:room`) made alike: `/a/:x` and `/a/:y` are one route. */
export function routeShape(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? ':' : segment))
    .join('/')
    .replace(/(.)\/+$/, '$1');
}

/** The built-in route `path` collides with or lies under, if any. */
export function builtinRouteAt(path: string, routes: readonly BuiltinRoute[]): BuiltinRoute | undefined {
  const p = routeShape(path);
  return routes.find((r) => {
    const b = routeShape(r.path);
    return p === b || (r.under === true && p.startsWith(b === '/' ? '/' : `${b}/`));
  });
}

/**
 * The `route_conflict` error for `who` at `path` colliding with the built-in `taken`: it names
 * both and says how to get out of the way.
 */
export function routeConflict(who: string, path: string, taken: BuiltinRoute): WirehubError {
  const at = taken.under && !taken.shared ? `${taken.path} (and every path under it)` : taken.path;
  const hint =
    taken.what.startsWith("the dashboard's admin") || taken.what === 'the dashboard'
      ? ': move it, or move the dashboard or turn it off (option `dashboard`, `--dashboard <path>|false`)'
      : ': serve it at another path';
  return new WirehubError('route_conflict', `${who} at ${path} collides with ${taken.what} at ${at}${hint}`, {
    path,
    builtin: taken.path,
  });
}

/**
 * Throws a `WirehubError` (`route_conflict`) naming `path`, who wanted it (`who`) and the
 * built-in route it collides with, when it does. With `http`, `path` is one of your HTTP
 * routes: it may go under a `shared` prefix (`/api/*`).
 *
 * @example
 * ```ts
 * assertNoBuiltinRoute('/', builtinRoutes({ dashboard: '/', tasks: true }), 'the endpoint "home"');
 * // WirehubError: the endpoint "home" at / collides with the dashboard at / …
 * ```
 */
export function assertNoBuiltinRoute(
  path: string,
  routes: readonly BuiltinRoute[],
  who: string,
  options: { http?: boolean } = {},
): void {
  const taken = builtinRouteAt(path, options.http ? routes.filter((r) => !r.shared) : routes);
  if (taken) throw routeConflict(who, path, taken);
}

/**
 * The `dashboard` option as a path, or false: `true` or absent is `/`; a path is a static
 * absolute path (no parameters, wildcards, query or fragment).
 */
export function resolveDashboardPath(value: boolean | string | undefined): string | false {
  if (value === false) return false;
  if (value === undefined || value === true) return '/';
  const path = value.length > 1 ? value.replace(/\/+$/, '') : value;
  if (!/^\/(?:[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*)?$/.test(path)) {
    throw new Error(
      `dashboard must be false or a path such as / or /dashboard (letters, digits, . _ ~ - between slashes), got ${JSON.stringify(value)}`,
    );
  }
  return path;
}
