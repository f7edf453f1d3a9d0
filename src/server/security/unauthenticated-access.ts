import { basicWsEndpoint } from '../../endpoints/basic-ws.js';
import { broadcastEndpoint } from '../../endpoints/broadcast.js';
import { chatEndpoint } from '../../endpoints/chat.js';
import { echoEndpoint } from '../../endpoints/echo.js';
import type { EndpointDefinition } from '../../endpoints/endpoint.js';
import { streamEndpoint } from '../../endpoints/stream.js';
import { WirehubError } from '../../protocol/index.js';

/**
 * THE rule for callers without credentials, one for both surfaces: the upgrade gate asks it
 * for every WebSocket endpoint, the HTTP guard for every guarded route.
 *
 * With auth off nobody proves who they are, so the server cannot tell its developer from a
 * stranger: whoever reaches the port is `anonymous`, with every grant by default. That is
 * right for this machine (the developer, their browser, their scripts) and wrong for the
 * network. So, with auth off, a caller that is not on this machine (loopback, judged after
 * `--trust-proxy`, so a remote client behind a local proxy is still remote) may only pass:
 *
 * - what needs no credentials even with auth on: the pages and their assets, `/docs`,
 *   `/healthz`, `/readyz`, and `/metrics` with `--public-metrics`. They hold no data (the
 *   run page reads its run from the API and `/task-runner`, which are not public);
 * - the guide's plain endpoints `/ws`, `/echo`, `/broadcast`, `/stream` and `/chat/{room}`,
 *   public in the guide. Each only passes text between its own clients, on its own channel.
 *
 * Everything else is loopback-only (403 `forbidden`, `details.reason: "loopback_only"`):
 * the HTTP API (`/api/*`: publish to any channel, history, presence, runs), `/metrics`,
 * routes behind `server.guard()`, `/rt` (any channel, history, presence, runs), endpoints
 * added with `addEndpoint`, and `/task-runner`. The guide shows `/task-runner` open, but it
 * starts work: task code runs on this machine with inputs of the caller's choosing, takes
 * worker and queue slots, and with auth off every caller is the same anonymous user, who
 * may watch and cancel every run and is not counted by the per-user run limit. To offer it
 * to the network, turn auth on: then each run has an owner and a limit.
 *
 * With auth on this rule has nothing to say: credentials and grants decide.
 */
export const PUBLIC_ENDPOINTS: ReadonlySet<EndpointDefinition<unknown>> = new Set<
  EndpointDefinition<unknown>
>([
  basicWsEndpoint,
  echoEndpoint,
  broadcastEndpoint,
  streamEndpoint,
  chatEndpoint,
] as EndpointDefinition<unknown>[]);

/** What a caller is trying to pass: a WebSocket endpoint, or an HTTP route behind a guard. */
export type Door = { endpoint: EndpointDefinition<unknown> } | 'guarded-route';

/** Loopback addresses: 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** True when `door` is open to callers from other machines while auth is off. */
export function isPublicWithoutAuth(door: Door): boolean {
  return door !== 'guarded-route' && PUBLIC_ENDPOINTS.has(door.endpoint);
}

/**
 * Applies the rule: throws `forbidden` (`details.reason: "loopback_only"`) when auth is off,
 * the client is not on this machine, and `door` is not public. `clientIp` must already
 * honour `--trust-proxy`.
 */
export function assertMayPassWithoutAuth(authEnabled: boolean, clientIp: string, door: Door): void {
  if (authEnabled || isLoopback(clientIp) || isPublicWithoutAuth(door)) return;
  const what = door === 'guarded-route' ? 'the HTTP API' : `the ${door.endpoint.name} endpoint`;
  throw new WirehubError(
    'forbidden',
    `with auth off ${what} only answers clients on this machine (loopback); turn auth on to open it`,
    { reason: 'loopback_only' },
  );
}

/** A host name or address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare === 'localhost' || isLoopback(bare);
}

/**
 * Why a server must not start: it would listen where other machines reach it, without auth,
 * and nobody said that is meant. Undefined when it may start. `flags` words the advice for
 * the CLI, otherwise for `createServer` options.
 */
export function publicBindProblem(
  host: string,
  o: { authEnabled: boolean; allowPublicWithoutAuth: boolean; flags?: boolean },
): string | undefined {
  if (o.authEnabled || o.allowPublicWithoutAuth || isLoopbackHost(host)) return undefined;
  const advice = o.flags
    ? 'turn auth on (--jwt-secret, --jwks or --api-key), bind --host 127.0.0.1, or pass --allow-public-without-auth'
    : 'turn auth on (auth.jwtSecret, auth.jwks or auth.apiKeys), bind host 127.0.0.1, or set allowPublicWithoutAuth: true';
  return `refusing to listen on ${host} without auth: other machines could reach it with no credentials. To start, ${advice} (then other machines get only /ws, /echo, /broadcast, /stream and /chat/{room}; everything else answers this machine only)`;
}
