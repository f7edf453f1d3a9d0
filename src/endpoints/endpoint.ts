import type { Frame } from '../hub/frame.js';
import type { Hub } from '../hub/hub.js';
import type { Principal, TokenVerifier } from '../hub/principal.js';
import type { Session } from '../hub/session.js';
import type { WirehubError } from '../protocol/index.js';
import type { Logger } from '../util/logger.js';

/** What the upgrade gate knows about a connection attempt, before any socket exists. */
export interface UpgradeInfo {
  /** Request path without the query string. */
  path: string;
  /** Path parameters, already URI-decoded, e.g. `{ room: 'lobby' }` for `/chat/:room`. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** The client's address: the socket peer, or from X-Forwarded-For behind a trusted proxy. */
  remoteAddress: string;
  /**
   * Who is connecting, already authenticated (anonymous when auth is off): `accept` checks
   * the principal's grants for what the endpoint does, e.g. `subscribe` on its channel.
   */
  principal: Principal;
}

/** Per-connection callbacks an endpoint returns from `open`. */
export interface ConnectionHandlers {
  /** A complete message: a string for text frames, a Buffer for binary ones. */
  message?(data: string | Buffer, isBinary: boolean): void | Promise<void>;
  /** The connection is gone (any reason). `code` is the close code sent or received. */
  close?(code: number): void | Promise<void>;
}

/** Services an endpoint may use. */
export interface EndpointContext {
  hub: Hub;
  log: Logger;
  /** Verifies tokens (for `/rt` `refresh`): hand the principal to `session.reauthenticate`. */
  auth: TokenVerifier;
  /**
   * Most levels of nesting a JSON message may have (the server's `maxJsonDepth`): parse
   * client JSON with `parseJson(text, { maxDepth })` from `wirehub/protocol`.
   */
  maxJsonDepth: number;
}

/**
 * A WebSocket endpoint. The built-in seed patterns are defined this way, and so are a
 * program's own endpoints.
 *
 * @example
 * ```ts
 * const shout: EndpointDefinition = {
 *   path: '/shout',
 *   name: 'shout',
 *   open: (session) => ({
 *     message: (text) => { session.send(Frame.text(String(text).toUpperCase())); },
 *   }),
 * };
 * const server = await createServer({ endpoints: [shout] });
 * ```
 */
export interface EndpointDefinition<State = unknown> {
  /** Path pattern; `:name` matches one segment, e.g. `/chat/:room`. */
  path: string;
  /** Short name used as the `endpoint` label in metrics and logs. */
  name: string;
  /** Accept binary frames. Text-only endpoints close on binary with 1003. */
  binary?: boolean;
  /**
   * WebSocket subprotocols the endpoint speaks, preferred first. The handshake selects the
   * first one the client offers; none is selected when the client offers none of them.
   */
  protocols?: readonly string[];
  /**
   * How this endpoint tells a client about a message the server dropped before any handler
   * saw it (over the connection's message rate). `data` is that message. Default:
   * `{"error":{"code","message","details?"}}`; `/rt` answers with its `{"op":"error","id",…}`.
   */
  errorFrame?(err: WirehubError, data: string | Buffer): Frame;
  /**
   * Checks the upgrade request before any socket is opened. Throw a `WirehubError` to
   * refuse it with that error's HTTP status and a JSON body. Returns per-connection state.
   */
  accept?(info: UpgradeInfo, ctx: EndpointContext): State | Promise<State>;
  /**
   * Starts the connection. Runs before the handshake completes, so whatever it subscribes
   * to is in place by the time the client sees the socket open; frames it sends are queued
   * and written right after the handshake.
   */
  open(
    session: Session,
    ctx: EndpointContext,
    state: State,
  ): ConnectionHandlers | Promise<ConnectionHandlers>;
}

/** Identity helper that keeps `State` inferred. */
export function defineEndpoint<State>(def: EndpointDefinition<State>): EndpointDefinition<State> {
  return def;
}
