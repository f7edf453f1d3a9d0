import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { WirehubError } from '../../../protocol/index.js';
import type { FlyteCredentials } from './config.js';
import { AuthMetadataService } from './idl.js';

/** Where and how to ask for tokens, as the cluster advertises it (AuthMetadataService). */
interface TokenEndpoint {
  url: string;
  scopes: string[];
  audience: string;
  /** The header the cluster reads the token from. Default `authorization`. */
  headerKey: string;
}

interface CachedToken {
  value: string;
  /** When to get a new one: some time before it expires. */
  renewAt: number;
}

/** Renew this long before expiry (tokens living over ten times that; others at 90% of their life). */
const RENEW_BEFORE_MS = 60_000;

/**
 * Credentials for the Flyte calls: nothing (a sandbox), a fixed bearer token, or client
 * credentials from an API key. With client credentials it asks the cluster where its token
 * endpoint is (`AuthMetadataService.GetOAuth2Metadata` and `GetPublicClientConfig`, once),
 * gets a token with the OAuth2 client-credentials grant (HTTP Basic `client_id:secret`, as the
 * official SDK does), caches it, and renews it before it expires; a call refused with
 * `Unauthenticated` drops the cached token so the next call gets a new one.
 *
 * @example
 * ```ts
 * const auth = new FlyteAuth({ kind: 'client', clientId, clientSecret }, plainTransport);
 * const transport = createConnectTransport({ baseUrl, httpVersion: '2', interceptors: [auth.interceptor] });
 * ```
 */
export class FlyteAuth {
  private endpoint: Promise<TokenEndpoint> | undefined;
  private token: CachedToken | undefined;
  private pending: Promise<CachedToken> | undefined;
  /** Tokens fetched so far (diagnostics, tests). */
  fetched = 0;

  constructor(
    private readonly credentials: FlyteCredentials,
    /** A transport without this interceptor, for the metadata calls. */
    private readonly metadataTransport: Transport,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds the credentials to every call; on `Unauthenticated` forgets the token, and retries a unary call once. */
  readonly interceptor: Interceptor = (next) => async (req) => {
    if (this.credentials.kind === 'none') return next(req);
    const [key, value] = await this.header();
    req.header.set(key, value);
    try {
      return await next(req);
    } catch (err) {
      if (
        !(err instanceof ConnectError) ||
        err.code !== Code.Unauthenticated ||
        this.credentials.kind !== 'client'
      )
        throw err;
      this.forget(value);
      if (req.stream) throw err; // a stream's caller subscribes again, with a new token
      const [k, v] = await this.header();
      req.header.set(k, v);
      return next(req);
    }
  };

  /** The header to send: `[name, "Bearer <token>"]`. */
  async header(): Promise<[string, string]> {
    const c = this.credentials;
    if (c.kind === 'token') return ['authorization', `Bearer ${c.token}`];
    if (c.kind === 'none') throw new Error('no credentials');
    const endpoint = await this.tokenEndpoint();
    const token = await this.currentToken(endpoint);
    return [endpoint.headerKey, `Bearer ${token.value}`];
  }

  /**
   * Drops the cached token, so the next call gets a new one: a stream refused with
   * `Unauthenticated` (its error comes while reading it, past the interceptor) calls this.
   */
  invalidate(): void {
    this.token = undefined;
  }

  private forget(header: string): void {
    if (this.token && header === `Bearer ${this.token.value}`) this.token = undefined;
  }

  private tokenEndpoint(): Promise<TokenEndpoint> {
    this.endpoint ??= this.discover().catch((err: unknown) => {
      this.endpoint = undefined;
      throw err;
    });
    return this.endpoint;
  }

  private async discover(): Promise<TokenEndpoint> {
    const client = createClient(AuthMetadataService, this.metadataTransport);
    try {
      const [oauth, pub] = await Promise.all([
        client.getOAuth2Metadata({}),
        client.getPublicClientConfig({}),
      ]);
      if (!oauth.tokenEndpoint) throw new Error('the cluster advertises no token endpoint');
      return {
        url: oauth.tokenEndpoint,
        scopes: pub.scopes,
        audience: pub.audience,
        headerKey: (pub.authorizationMetadataKey || 'authorization').toLowerCase(),
      };
    } catch (err) {
      throw new WirehubError(
        'executor_unavailable',
        `Flyte: cannot read the cluster's auth metadata: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private async currentToken(endpoint: TokenEndpoint): Promise<CachedToken> {
    if (this.token && this.now() < this.token.renewAt) return this.token;
    this.pending ??= this.fetchToken(endpoint).finally(() => {
      this.pending = undefined;
    });
    this.token = await this.pending;
    return this.token;
  }

  private async fetchToken(endpoint: TokenEndpoint): Promise<CachedToken> {
    const c = this.credentials;
    if (c.kind !== 'client') throw new Error('not client credentials');
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (endpoint.scopes.length > 0) body.set('scope', endpoint.scopes.join(' '));
    if (endpoint.audience) body.set('audience', endpoint.audience);
    const basic = Buffer.from(`${c.clientId}:${encodeURIComponent(c.clientSecret)}`).toString('base64');
    let res: Response;
    try {
      res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'cache-control': 'no-cache',
        },
        body,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new WirehubError(
        'executor_unavailable',
        `Flyte: the token endpoint ${endpoint.url} cannot be reached: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const json = (await res.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
    };
    if (!res.ok || typeof json.access_token !== 'string') {
      const why = typeof json.error === 'string' ? json.error : `HTTP ${res.status}`;
      throw new WirehubError(
        'executor_unavailable',
        `Flyte: the token endpoint refused the API key's credentials (${why})`,
      );
    }
    this.fetched += 1;
    const lifeMs =
      typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in * 1000 : 3_600_000;
    // A minute before expiry; short-lived tokens at 90% of their life.
    const renewIn = lifeMs > 10 * RENEW_BEFORE_MS ? lifeMs - RENEW_BEFORE_MS : lifeMs * 0.9;
    return { value: json.access_token, renewAt: this.now() + renewIn };
  }
}
