/** The Flyte options of `createServer({ tasks: { flyte } })`, `wirehub serve` and the config file. */
export interface FlyteOptions {
  /**
   * The cluster's API: `https://host[:port]`, `http://host:port` (plain, a local sandbox),
   * `dns:///host[:port]` (as the Flyte CLI writes it) or `host[:port]` (TLS unless `insecure`).
   * May be left out when `apiKey` carries it.
   */
  endpoint?: string;
  /**
   * An API key as the Flyte CLI makes them (`flyte create api-key`): base64 of
   * `endpoint:client_id:client_secret:org`. Exchanged for tokens (OAuth2 client credentials at
   * the token endpoint the cluster advertises), cached and renewed before they expire.
   */
  apiKey?: string;
  /** A bearer token to send as it is (instead of an API key). */
  token?: string;
  /** The organization of task and run ids. Default: the API key's, else the endpoint's first DNS label when it has three or more. */
  org?: string;
  /** Plain HTTP instead of TLS (a local sandbox). Default: true for `http://` endpoints, else false. */
  insecure?: boolean;
  /** HTTP version of the Connect calls. Default `2` (`1.1` for proxies that do not speak HTTP/2). */
  httpVersion?: '1.1' | '2';
  /** Base of console links (`<console>/v2/domain/<d>/project/<p>/runs/<name>`). Default: the endpoint's origin. */
  consoleUrl?: string;
  /** Runs followed at once by this process; one more is refused with `queue_full`. Default 10 000. */
  maxRuns?: number;
  /** Deadline of each unary call. Default 30 s. */
  callTimeoutMs?: number;
}

/** A Flyte option that cannot work: the message says which and why. Stops the server from starting. */
export class FlyteConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlyteConfigError';
  }
}

export type FlyteCredentials =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  | { kind: 'client'; clientId: string; clientSecret: string };

/** Options checked and completed: where to connect, as whom, and how console links look. */
export interface FlyteConfig {
  /** `http(s)://host[:port]`: the base URL of the Connect calls. */
  baseUrl: string;
  httpVersion: '1.1' | '2';
  org: string;
  consoleUrl: string;
  credentials: FlyteCredentials;
  maxRuns: number;
  callTimeoutMs: number;
}

/** What an API key holds. */
export interface ApiKey {
  endpoint: string;
  clientId: string;
  clientSecret: string;
  org: string | undefined;
}

// The endpoint of an API key: host[:port], maybe after dns:/// or http(s):// (colons of its own).
const KEY_ENDPOINT = /^((?:dns:\/\/\/|https?:\/\/)?(?:\[[0-9A-Fa-f:.]+\]|[^:/]+)(?::\d{1,5})?):/;

/**
 * Decodes an API key (base64 of `endpoint:client_id:client_secret:org`), as the Flyte SDK
 * does: the endpoint (which may hold a scheme and a port), then the id, the secret, and the
 * org as the rest. An org of `None` (or none) means no org.
 */
export function decodeApiKey(key: string): ApiKey {
  const invalid = () =>
    new FlyteConfigError(
      'the Flyte API key is not valid: expected base64 of endpoint:client_id:client_secret:org (make one with `flyte create api-key`)',
    );
  if (!/^[A-Za-z0-9+/=_-]+$/.test(key.trim())) throw invalid();
  const text = Buffer.from(key.trim(), 'base64').toString('utf8');
  const m = KEY_ENDPOINT.exec(text);
  if (!m) throw invalid();
  const endpoint = m[1] as string;
  const rest = text.slice(m[0].length).split(':');
  if (rest.length < 3) throw invalid();
  const [clientId = '', clientSecret = '', ...orgParts] = rest;
  const org = orgParts.join(':');
  if (!endpoint || !clientId || !clientSecret) {
    throw new FlyteConfigError('the Flyte API key is not valid: its endpoint, client id or secret is empty');
  }
  return { endpoint, clientId, clientSecret, org: org && org !== 'None' ? org : undefined };
}

/** `host[:port]` of an endpoint in any of the accepted forms, and whether it named plain HTTP. */
function parseEndpoint(endpoint: string): { host: string; plain: boolean | undefined } {
  const e = endpoint.trim();
  let host: string;
  let plain: boolean | undefined;
  if (e.startsWith('dns:///')) host = e.slice(7);
  else if (/^https?:\/\//.test(e)) {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new FlyteConfigError(`the Flyte endpoint ${e} is not a valid URL`);
    }
    if (url.pathname !== '/' && url.pathname !== '') {
      throw new FlyteConfigError(
        `the Flyte endpoint ${e} must not have a path: give its origin, e.g. ${url.origin}`,
      );
    }
    host = url.host;
    plain = url.protocol === 'http:';
  } else if (e.includes('://')) {
    throw new FlyteConfigError(
      `the Flyte endpoint ${e} must be https://host, http://host:port, dns:///host or host[:port]`,
    );
  } else host = e;
  host = host.replace(/\/+$/, '');
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(host)) {
    throw new FlyteConfigError(`the Flyte endpoint ${endpoint} has no valid host[:port]`);
  }
  return { host, plain };
}

/** The organization the SDK derives from an endpoint: its first DNS label, when it has three or more. */
function orgFromHost(host: string): string | undefined {
  const name = host.replace(/:\d+$/, '');
  const labels = name.split('.');
  return labels.length > 2 && !/^\d+$/.test(labels.at(-1) ?? '') ? labels[0] : undefined;
}

/**
 * Checks the Flyte options and fills in the defaults. Throws `FlyteConfigError` with a message
 * naming the option at fault: no endpoint, a malformed endpoint or API key, both a token and
 * an API key, a bad number.
 */
export function resolveFlyteConfig(options: FlyteOptions): FlyteConfig {
  if (options.apiKey !== undefined && options.token !== undefined) {
    throw new FlyteConfigError('give either a Flyte API key or a Flyte token, not both');
  }
  const key = options.apiKey === undefined ? undefined : decodeApiKey(options.apiKey);
  const endpoint = options.endpoint ?? key?.endpoint;
  if (!endpoint) {
    throw new FlyteConfigError(
      'the Flyte endpoint is missing: set --flyte-endpoint (or an API key that carries one)',
    );
  }
  const { host, plain } = parseEndpoint(endpoint);
  if (options.insecure === false && plain === true) {
    throw new FlyteConfigError(
      `the Flyte endpoint ${endpoint} is plain http:// but insecure is off; use https://`,
    );
  }
  const insecure = options.insecure ?? plain ?? false;
  const scheme = insecure ? 'http' : 'https';
  const maxRuns = options.maxRuns ?? 10_000;
  if (!(Number.isInteger(maxRuns) && maxRuns >= 1))
    throw new FlyteConfigError('Flyte maxRuns must be an integer of at least 1');
  const callTimeoutMs = options.callTimeoutMs ?? 30_000;
  if (!(Number.isInteger(callTimeoutMs) && callTimeoutMs >= 1))
    throw new FlyteConfigError('Flyte callTimeoutMs must be a positive integer');
  const httpVersion = options.httpVersion ?? '2';
  if (httpVersion !== '1.1' && httpVersion !== '2')
    throw new FlyteConfigError('Flyte httpVersion must be 1.1 or 2');
  let consoleUrl = `${scheme}://${host}`;
  if (options.consoleUrl !== undefined) {
    try {
      consoleUrl = new URL(options.consoleUrl).origin;
    } catch {
      throw new FlyteConfigError(`the Flyte console URL ${options.consoleUrl} is not a valid URL`);
    }
  }
  const token = options.token?.trim();
  if (options.token !== undefined && !token) throw new FlyteConfigError('the Flyte token is empty');
  const credentials: FlyteCredentials = key
    ? { kind: 'client', clientId: key.clientId, clientSecret: key.clientSecret }
    : token
      ? { kind: 'token', token }
      : { kind: 'none' };
  return {
    baseUrl: `${scheme}://${host}`,
    httpVersion,
    org: options.org ?? key?.org ?? orgFromHost(host) ?? '',
    consoleUrl,
    credentials,
    maxRuns,
    callTimeoutMs,
  };
}

/** The console page of a run: `<console>/v2/domain/<domain>/project/<project>/runs/<name>`. */
export function consoleRunUrl(
  config: FlyteConfig,
  run: { project: string; domain: string; name: string },
): string {
  const e = encodeURIComponent;
  return `${config.consoleUrl}/v2/domain/${e(run.domain)}/project/${e(run.project)}/runs/${e(run.name)}`;
}
