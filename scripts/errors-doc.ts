// Builds docs/errors.md from the one error catalog (src/protocol/errors.ts) and the close codes
// (src/protocol/close-codes.ts), so the page cannot drift from the code: test/unit/docs.test.ts
// fails when the file differs and rewrites it when run with WIREHUB_WRITE_DOCS=1. Only the
// "when" column is prose kept here: it is documentation, not something clients need to ship.
import { CloseCode, closeCodeInfo, type ErrorCode, errorCatalog } from '../src/protocol/index.js';

/** When each error is reported (the "when" column); the type makes a new catalog code fail to compile without one. */
const WHEN: Record<ErrorCode, string> = {
  bad_request:
    'Malformed HTTP request or upgrade (bad handshake, bad query, wrong subprotocol on `/rt`, a URL that is not validly percent-encoded, a bad `Content-Length` or `Transfer-Encoding`, an unknown method). Another 4xx that the HTTP layer answers by itself (e.g. 416 for a `Range` outside a file) keeps its status with this code.',
  invalid_json:
    'An `/rt` or `/task-runner` frame, or an HTTP `application/json` body, that is not JSON (or is empty). The socket stays open.',
  json_too_deep:
    'A frame, an HTTP body or task inputs that nest objects and arrays deeper than `--max-json-depth` (default 64, the outermost counting 1); `details.maxDepth` says the limit. Also data published by code on the server that is too deep to serialise. Nothing of it is accepted; the socket stays open.',
  invalid_message:
    'A frame or body of the wrong shape; `details` lists each field and what is wrong. Also a frame or body with a `__proto__` key or a `constructor` key holding a `prototype` (`details.key`), and data published by code on the server that JSON cannot hold (a cycle, a BigInt). The socket stays open.',
  unknown_op: '`/rt` frame whose `op` is not a command. The socket stays open.',
  bad_channel: 'A channel name that breaks the naming rules (see protocol.md).',
  bad_room: '`/chat/{room}` with an invalid room name (upgrade refused).',
  bad_interval: '`/stream?interval=` out of bounds (upgrade refused).',
  invalid_inputs:
    "A run request whose inputs fail the task's zod schema; `details.issues` lists the schema issues. An input key the task does not know is one (`code: unrecognized_keys`, with the `keys`), unless the task accepts extra keys ([tasks.md](tasks.md)). Inputs that JSON cannot hold (code on the server only). The socket stays open.",
  unknown_namespace: 'A well-formed channel name that no configured namespace matches.',
  already_subscribed: '`subscribe` to a channel this connection is already subscribed to.',
  not_subscribed: '`unsubscribe` from a channel this connection is not subscribed to.',
  not_enabled: '`history` on a namespace without history, or `presence` on one without presence.',
  not_found: 'No route or WebSocket endpoint at that path.',
  unknown_task: 'A run request for a task that is not registered.',
  unknown_run: 'A run id that does not exist.',
  upgrade_required: 'A plain HTTP GET on a WebSocket path (HTTP 426).',
  unauthorized:
    "Auth is on and the token or API key is missing, bad, expired or for another audience/issuer: the upgrade is refused (401 with `WWW-Authenticate: Bearer`), and so are `/api/*` and `/metrics`; `details.reason` says why. An `/rt` `refresh` with such a token, or with another user's (`reason: other_user`), gets it as an error and the connection goes on with its old token. See security.md.",
  forbidden:
    'Not allowed: an Origin not on the allowlist or an endpoint the grants do not cover (upgrade refused); `/chat/{room}`, `/broadcast` or `/ws` without the `subscribe` grant on its channel (upgrade refused) or a message there without `publish` (an `{"error":\u2026}` frame); an `/rt` `subscribe`/`publish`/`history`/`presence` the channel grants do not cover; a run of a task the grants do not cover, or seeing/cancelling a run of another user without the `allRuns` grant (`/rt`, `/task-runner`, `/api/runs`); a channel action the grants do not cover on `/api/*`; with auth off, any loopback-only door from another machine; publishing to a server-only namespace (`run:*`, `ws`) from `/rt`. The socket stays open.',
  rate_limited:
    'Upgrade: too many open connections or attempts from one client IP (429 with `Retry-After`). A frame over the connection\'s message rate: an `{"error":\u2026}` frame, the socket stays open, and it closes with 4029 if it goes on.',
  too_many_channels:
    '`subscribe` over the per-connection channel limit (default 128); `details.max` says the limit.',
  too_many_runs:
    'A run request (`/rt` `run`, `/task-runner`, `POST /api/runs/\u2026`) from a user who already has `--max-runs-per-user` runs queued or running (default 10); `details.max` says the limit. Wait for one to end.',
  run_finished: '`cancel`/abort of a run that is already in a terminal status.',
  payload_too_large:
    'An HTTP body over the limit (WebSocket frames over the max payload close with 1009 instead).',
  method_not_allowed:
    'An HTTP method the path does not answer (a path that exists with other methods); the `Allow` header lists those it does.',
  request_timeout:
    'Request headers not complete within `--headers-timeout`, or the request within `--request-timeout` (slowloris); the socket is closed.',
  uri_too_long: 'An HTTP path parameter (a run id, a channel name\u2026) over 256 characters.',
  bad_content_type: 'An HTTP body whose `Content-Type` no parser takes (the API takes `application/json`).',
  headers_too_large: "Request line and headers over Node's limit (16 KiB); the socket is closed.",
  queue_full: 'The run queue is full.',
  not_ready:
    'The node is draining or not ready (`/readyz`, refused upgrades), or a remote JWKS could not be fetched.',
  node_full: "Upgrade over the node's connection limit (`--max-connections`).",
  internal: 'An unexpected server error; details are logged, not sent.',
  not_available: 'A command this server does not offer: `run` and `cancel` with the task runner turned off.',
  route_conflict:
    "Thrown while a server is set up, never sent: `createServer`/`addEndpoint` with an endpoint on a path the server's own routes take (the dashboard at `/` or its `dashboard` path, its `/admin/*` pages, `/api/*`, `/docs`, `/metrics`, `/healthz`, `/readyz`, `/assets/*`, `/runs/*`, the icons), a `dashboard` path one of them takes, or a route added on `server.http` that one of them takes (`details.path`, `details.builtin`). The message names both; move yours, or move the dashboard (`--dashboard <path>`) or turn it off (`--dashboard false`).",
  broker_unavailable:
    'With `--redis`, while this node cannot reach Redis: publishing to a channel with history (`/rt` `error`, a plain endpoint\'s `{"error":\u2026}` frame, REST 503), `history`, `presence`. Channels without history still reach this node\'s own subscribers.',
  store_unavailable:
    'The embedded store (`channels.db`, `runs.db`) could not commit (disk full, I/O error, a lock) or read (a damaged file): a publish on a channel with history, a run request, a history read. Nothing of it was stored or acked; `/readyz` answers 503 until a write succeeds again (for a damaged file: until it is repaired).',
  executor_unavailable:
    "With Flyte configured ([tasks.md](tasks.md#flyte-2)): the cluster cannot be reached, refuses wirehub's credentials (a bad API key, a token endpoint that says no) or fails a call while a run is being looked up or created. Nothing was created: the request may be sent again. `details` has the Connect `code`.",
  disconnected:
    'Client SDK only (never sent by the server): the connection dropped while the command was in flight; it may or may not have taken effect. Subscriptions are not affected: they renew themselves on the next connection.',
  timeout:
    'Client SDK only: no answer within `commandTimeoutMs` (a command made while disconnected waits for the connection that long).',
  client_closed:
    'Client SDK only: `close()` was called while the command waited, or the command came after it.',
};

/** A markdown table with its columns padded to their widest cell. */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** docs/errors.md as it must read. */
export function errorsMarkdown(): string {
  const errors = (Object.keys(errorCatalog) as ErrorCode[]).map((code) => [
    `\`${code}\``,
    String(errorCatalog[code].status),
    errorCatalog[code].message,
    WHEN[code],
  ]);
  const closes = Object.entries(CloseCode).map(([name, code]) => [
    String(code),
    name,
    closeCodeInfo[code].meaning,
    closeCodeInfo[code].reconnect ? 'yes' : 'no',
  ]);
  return `# Errors and close codes

<!-- Generated by scripts/errors-doc.ts from src/protocol/errors.ts and close-codes.ts: edit those. -->

Every error wirehub reports carries one stable \`code\` from a single catalog
(\`src/protocol/errors.ts\`): in an \`/rt\` \`error\` frame (\`{"op":"error","id","code","message","details?"}\`),
in a plain endpoint's \`{"error":{"code","message"}}\` frame, and in HTTP bodies
(\`{"error":{"code","message","details?"}}\`, with the status below). This page is generated
from the catalog (\`scripts/errors-doc.ts\`); a test fails when it is stale.

## Error codes

${table(['code', 'HTTP status', 'meaning', 'when'], errors)}

## Close codes

WebSocket close codes wirehub sends, or reports for a connection that dropped
(\`src/protocol/close-codes.ts\`); "reconnect?" is what the client SDK does after each.

${table(['code', 'name', 'meaning', 'reconnect?'], closes)}
`;
}
