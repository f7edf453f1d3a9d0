import { type Client, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { WirehubError } from '../../../protocol/index.js';
import { FlyteAuth } from './auth.js';
import type { FlyteConfig } from './config.js';
import { RunService, TaskService } from './idl.js';

/** The Flyte services wirehub calls, over one Connect transport with the credentials added. */
export interface FlyteClient {
  readonly runs: Client<typeof RunService>;
  readonly tasks: Client<typeof TaskService>;
  readonly auth: FlyteAuth;
  readonly config: FlyteConfig;
}

/**
 * Connects to a Flyte 2 cluster with the Connect protocol (binary protobuf) over HTTP/2 (or
 * HTTP/1.1): `RunService` and `TaskService`, the same services the official SDK uses. Calls
 * carry the configured credentials (see `FlyteAuth`).
 *
 * @example
 * ```ts
 * const flyte = connectFlyte(resolveFlyteConfig({ endpoint: 'http://localhost:8090' }));
 * const { details } = await flyte.tasks.getTaskDetails({ taskId: { org, project, domain, name, version } });
 * ```
 */
export function connectFlyte(config: FlyteConfig): FlyteClient {
  const base = { baseUrl: config.baseUrl, httpVersion: config.httpVersion, useBinaryFormat: true } as const;
  const auth = new FlyteAuth(config.credentials, createConnectTransport(base));
  const transport = createConnectTransport({ ...base, interceptors: [auth.interceptor] });
  return {
    runs: createClient(RunService, transport),
    tasks: createClient(TaskService, transport),
    auth,
    config,
  };
}

/** Failures of the connection itself (nothing reached the cluster, or it could not answer). */
const UNREACHABLE = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Canceled,
  Code.Unknown,
  Code.Internal,
]);

/**
 * Connect's own phrase for a server stream whose body stopped before its end message. Under
 * Bun a reset HTTP/2 connection ends its streams as if cleanly (Node reports the reset), so
 * Connect says this, with `invalid_argument`: a cut stream, not a bad request.
 */
const CUT_STREAM = 'protocol error: missing EndStreamResponse';

/** True when a failed call is worth retrying later (the cluster is away, a stream was reset). */
export function isTransient(err: unknown): boolean {
  if (err instanceof ConnectError) {
    return UNREACHABLE.has(err.code) || err.code === Code.Unauthenticated || err.rawMessage === CUT_STREAM;
  }
  return err instanceof WirehubError ? err.code === 'executor_unavailable' : true;
}

/**
 * A failed Flyte call as a wirehub error for the client: a `WirehubError` as it is, anything
 * else `executor_unavailable` naming the call and the Connect code.
 */
export function flyteError(err: unknown, call: string): WirehubError {
  if (err instanceof WirehubError) return err;
  // Connect wraps what an interceptor threw (the credentials could not be had): keep that.
  if (err instanceof ConnectError && err.cause instanceof WirehubError) return err.cause;
  if (err instanceof ConnectError) {
    return new WirehubError(
      'executor_unavailable',
      `Flyte ${call} failed: ${Code[err.code]}: ${err.rawMessage}`,
      {
        code: Code[err.code],
      },
    );
  }
  return new WirehubError(
    'executor_unavailable',
    `Flyte ${call} failed: ${err instanceof Error ? err.message : String(err)}`,
  );
}

/** The Connect code of a failed call, if it is one. */
export function connectCode(err: unknown): Code | undefined {
  return err instanceof ConnectError ? err.code : undefined;
}
