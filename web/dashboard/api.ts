/** An HTTP API answer that was not 2xx, with the server's `{"error":{code,message}}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** GETs a JSON route of this server with the token (when there is one) as a bearer token. */
export function getJson<T>(path: string, token: string | undefined): Promise<T> {
  return call<T>('GET', path, token);
}

/** POSTs `body` as JSON to a route of this server, with the token as a bearer token. */
export function postJson<T>(path: string, token: string | undefined, body: unknown): Promise<T> {
  return call<T>('POST', path, token, body);
}

async function call<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, 'unreachable', `the server cannot be reached (${String(err)})`);
  }
  const answer = (await res.json().catch(() => undefined)) as
    | { error?: { code?: string; message?: string; details?: unknown } }
    | undefined;
  if (res.ok) return answer as T;
  const error = answer?.error;
  throw new ApiError(
    res.status,
    error?.code ?? 'http_error',
    error?.message ?? `HTTP ${res.status}`,
    error?.details,
  );
}

/** What a refused API call means for someone looking at the dashboard. */
export function explain(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err);
  if (err.status === 401) return 'This server has auth on: paste a token (JWT or API key) above.';
  const reason = (err.details as { reason?: string } | undefined)?.reason;
  if (err.status === 403 && reason === 'loopback_only') {
    return 'With auth off, this server answers other machines only on its plain endpoints (/ws, /echo, /broadcast, /stream, /chat): open the dashboard on the server host, or turn auth on.';
  }
  return `${err.code}: ${err.message}`;
}
