/**
 * The part of the WebSocket API the client uses. The browser's `WebSocket` and the `ws`
 * package's both fit. Handlers are typed `(event: never) => void` so that either
 * implementation's own event types are accepted; the client reads only the fields it needs.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** `readyState` of an open socket (the same in every implementation). */
export const OPEN = 1;

export interface MessageEventLike {
  data: unknown;
}

export interface CloseEventLike {
  code: number;
  reason: string;
}

/** The implementation to use: the one given, else the global one, else a clear error. */
export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  throw new TypeError(
    "no WebSocket implementation: this runtime has no global WebSocket, so pass one, e.g. new WirehubClient({ url, WebSocket }) with `import { WebSocket } from 'ws'`",
  );
}

/**
 * The `/rt` URL to connect to. `base` may be an `http(s)://` or `ws(s)://` URL; a path that
 * ends with `/` (or none) gets `rt` appended, any other path is used as it is. Without
 * `base`, a browser page connects to its own origin. The token goes in `?access_token=`
 * (browsers cannot set an `Authorization` header on a WebSocket).
 *
 * @example
 * ```ts
 * rtUrl('http://127.0.0.1:8080'); // 'ws://127.0.0.1:8080/rt'
 * rtUrl('wss://hub.example.com/rt', 'eyJ…'); // 'wss://hub.example.com/rt?access_token=eyJ…'
 * ```
 */
export function rtUrl(base: string | undefined, token?: string): string {
  const origin = (globalThis as { location?: { href: string } }).location?.href;
  if (base === undefined && origin === undefined) {
    throw new TypeError('no url: outside a browser page, pass the server URL, e.g. ws://127.0.0.1:8080');
  }
  const url = new URL(base ?? '/', origin);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`unsupported URL scheme ${url.protocol} (use ws:, wss:, http: or https:)`);
  }
  if (url.pathname.endsWith('/')) url.pathname = `${url.pathname}rt`;
  url.hash = '';
  if (token !== undefined) url.searchParams.set('access_token', token);
  return url.toString();
}

/**
 * The HTTP status of a refused upgrade, when the implementation says it: `ws` reports
 * "Unexpected server response: 401" in its error event. Browsers never tell (the status
 * is hidden from pages), so there it is undefined.
 */
export function upgradeStatusOf(event: unknown): number | undefined {
  const message = (event as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return undefined;
  const match = /Unexpected server response: (\d{3})/.exec(message);
  return match ? Number(match[1]) : undefined;
}
