import { Option } from 'commander';
import { parseHttpUrl } from './parse.js';

/** `--url` of a running server, also `WIREHUB_URL`. */
export function urlOption(): Option {
  return new Option('--url <url>', 'the wirehub server')
    .env('WIREHUB_URL')
    .argParser(parseHttpUrl)
    .default('http://127.0.0.1:8080');
}

/** `--token` for servers with auth on: a JWT or an API key, also `WIREHUB_TOKEN`. */
export function tokenOption(): Option {
  return new Option('--token <token>', 'a JWT or API key, for servers with auth on').env('WIREHUB_TOKEN');
}

/** The `Authorization` header for a token, or none. */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` };
}

/** The `ws(s)://` twin of an `http(s)://` base URL. */
export function wsBase(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

/** A failure talking to the server, reported as `wirehub: <message>` with exit code 1. */
export class ServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerError';
  }
}

/** GETs JSON from the server; answers that are not 2xx become a ServerError with the server's message. */
export async function getJson<T>(base: string, path: string, token?: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { headers: authHeaders(token) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ServerError(`cannot reach ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const body = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  if (!res.ok)
    throw new ServerError(`${base}${path} answered ${res.status}: ${body?.error?.message ?? 'no details'}`);
  return body as T;
}

/** A task as `GET /api/tasks` describes it (what the CLI uses of it). */
export interface TaskInfo {
  ref: string;
  project: string;
  domain: string;
  name: string;
  version: string;
  description?: string;
  retries: number;
  timeout_ms?: number;
  inputs: { properties?: Record<string, { type?: string; default?: unknown }>; required?: string[] };
}
