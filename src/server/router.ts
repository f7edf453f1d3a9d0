import type { EndpointDefinition } from '../endpoints/endpoint.js';
import { WirehubError } from '../protocol/index.js';

interface Route {
  segments: string[];
  endpoint: EndpointDefinition<unknown>;
}

export interface RouteMatch {
  endpoint: EndpointDefinition<unknown>;
  params: Record<string, string>;
}

/** Matches upgrade paths against endpoint patterns (`/chat/:room`): static segments exactly, `:x` one segment. */
export class EndpointRouter {
  private readonly routes: Route[] = [];
  /**
   * Static paths (no `:x`) that no earlier route matches: found by the path string itself, so
   * routing a handshake to `/echo` or `/rt` splits nothing (one connect+close less work).
   */
  private readonly exact = new Map<string, EndpointDefinition<unknown>>();

  add(endpoint: EndpointDefinition<unknown>): void {
    if (this.routes.some((r) => r.endpoint.path === endpoint.path)) {
      throw new Error(`two endpoints for ${endpoint.path}`);
    }
    const segments = split(endpoint.path);
    if (!segments.some((s) => s.startsWith(':')) && this.match(endpoint.path) === undefined) {
      this.exact.set(endpoint.path, endpoint);
    }
    this.routes.push({ segments, endpoint });
  }

  get endpoints(): EndpointDefinition<unknown>[] {
    return this.routes.map((r) => r.endpoint);
  }

  /** Finds the endpoint for a request path; `undefined` when none. Throws `bad_request` on undecodable params. */
  match(path: string): RouteMatch | undefined {
    const exact = this.exact.get(path);
    if (exact) return { endpoint: exact, params: {} };
    const parts = split(path);
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i += 1) {
        const pattern = route.segments[i] ?? '';
        const part = parts[i] ?? '';
        if (pattern.startsWith(':')) {
          params[pattern.slice(1)] = decode(part);
        } else if (pattern !== part) {
          ok = false;
          break;
        }
      }
      if (ok) return { endpoint: route.endpoint, params };
    }
    return undefined;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s, i) => i > 0 || s !== '');
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new WirehubError('bad_request', 'the path is not validly percent-encoded');
  }
}
