import { escapeRegExp } from '../../util/regexp.js';

/** A Fastify route pattern (`/api/runs/:id`, `/docs/static/*`) as a regular expression for a path. */
function patternOf(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+(?:\([^)]*\))?|\*)/)
    .map((part, i) => (i % 2 === 0 ? escapeRegExp(part) : part === '*' ? '.*' : '[^/]+'))
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * Which methods each route answers, so that a path that exists with other methods is answered
 * 405 with an `Allow` header instead of 404 (Fastify's router only knows "no route").
 * Filled from Fastify's `onRoute` hook.
 */
export class RouteMethods {
  private readonly routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  add(url: string, method: string | string[]): void {
    let route = this.routes.get(url);
    if (!route) {
      route = { pattern: patternOf(url), methods: new Set() };
      this.routes.set(url, route);
    }
    for (const m of Array.isArray(method) ? method : [method]) route.methods.add(m.toUpperCase());
    // Fastify answers HEAD on every GET route.
    if (route.methods.has('GET')) route.methods.add('HEAD');
  }

  /** The methods some route answers on `path` (sorted), or none when no route has this path. */
  allowed(path: string): string[] {
    let decoded = path;
    try {
      decoded = decodeURI(path);
    } catch {
      // Not valid percent-encoding: match it as it is.
    }
    const methods = new Set<string>();
    for (const route of this.routes.values()) {
      if (route.pattern.test(decoded) || route.pattern.test(path))
        for (const m of route.methods) methods.add(m);
    }
    return [...methods].sort();
  }
}
