/**
 * The one error catalog. Every error wirehub reports (in an `{"error":…}` frame, an `/rt`
 * `error` op or an HTTP body) carries one of these stable codes. `docs/errors.md` lists the
 * same codes; a test fails when the two disagree.
 */
export const errorCatalog = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  invalid_json: { status: 400, message: 'The frame or body is not valid JSON.' },
  json_too_deep: { status: 400, message: 'The JSON nests objects and arrays too deep.' },
  invalid_message: { status: 400, message: 'The message does not match the expected shape.' },
  unknown_op: { status: 400, message: 'Unknown op.' },
  bad_channel: { status: 400, message: 'Invalid channel name.' },
  bad_room: { status: 400, message: 'Invalid room name.' },
  bad_interval: { status: 400, message: 'Invalid stream interval.' },
  unknown_namespace: { status: 400, message: 'No channel namespace matches this channel.' },
  already_subscribed: { status: 400, message: 'This connection is already subscribed to the channel.' },
  not_subscribed: { status: 400, message: 'This connection is not subscribed to the channel.' },
  not_enabled: { status: 400, message: 'The channel namespace does not enable this feature.' },
  not_found: { status: 404, message: 'Not found.' },
  unknown_task: { status: 404, message: 'No such task.' },
  unknown_run: { status: 404, message: 'No such run.' },
  invalid_inputs: { status: 400, message: "The inputs do not match the task's inputs schema." },
  run_finished: { status: 409, message: 'The run has already ended.' },
  upgrade_required: {
    status: 426,
    message: 'This is a WebSocket endpoint; connect with a WebSocket client.',
  },
  unauthorized: { status: 401, message: 'Missing, invalid or expired credentials.' },
  forbidden: { status: 403, message: 'Not allowed.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  too_many_channels: { status: 400, message: 'Too many channel subscriptions on this connection.' },
  too_many_runs: { status: 429, message: 'Too many runs in progress for this user.' },
  payload_too_large: { status: 413, message: 'The message is too big.' },
  method_not_allowed: { status: 405, message: 'This path does not answer this method.' },
  request_timeout: { status: 408, message: 'The request was not sent in time.' },
  uri_too_long: { status: 414, message: 'A path segment is too long.' },
  bad_content_type: { status: 415, message: 'The body has a Content-Type this route does not take.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  queue_full: { status: 503, message: 'The run queue is full; try again later.' },
  not_ready: { status: 503, message: 'The server is draining or not ready.' },
  node_full: { status: 503, message: 'This node has no room for more connections.' },
  broker_unavailable: { status: 503, message: 'The message broker (Redis) is unavailable; try again.' },
  store_unavailable: { status: 503, message: 'The server could not store this; try again later.' },
  executor_unavailable: {
    status: 503,
    message: 'The remote task engine (Flyte) is unavailable or refused the call; try again.',
  },
  internal: { status: 500, message: 'Internal error.' },
  not_available: { status: 501, message: 'Not available on this server yet.' },
  // Raised when a server is set up (createServer, addEndpoint, server.http routes), never sent.
  route_conflict: { status: 500, message: "The path is taken by one of the server's own routes." },
  // Raised by the client SDK itself, never sent by the server.
  disconnected: { status: 503, message: 'The connection closed before the command was answered.' },
  timeout: { status: 504, message: 'The server did not answer in time.' },
  client_closed: { status: 499, message: 'The client was closed.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** Serialisable shape of an error, as sent on the wire. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/**
 * A typed error with a stable `code` from the catalog.
 *
 * @example
 * ```ts
 * throw new WirehubError('bad_room', 'room names are 1-64 of [A-Za-z0-9_.-]');
 * ```
 */
export class WirehubError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? errorCatalog[code].message);
    this.name = 'WirehubError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.details = details;
  }

  toJSON(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

/** True when `code` is in the catalog. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalog, code);
}

/** Turns anything thrown into a WirehubError, hiding internals behind `internal`. */
export function toWirehubError(err: unknown): WirehubError {
  if (err instanceof WirehubError) return err;
  return new WirehubError('internal');
}
