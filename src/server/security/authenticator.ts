import { createHash, timingSafeEqual } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { ALL_GRANTS, type PermissionPolicy, Permissions } from '../../hub/permissions.js';
import { anonymousPrincipal, type Principal, type TokenVerifier } from '../../hub/principal.js';
import { WirehubError } from '../../protocol/index.js';
import { JwtVerifier } from './jwt.js';

/** API keys shorter than this are refused at start. */
export const MIN_API_KEY_LENGTH = 16;

/** How clients prove who they are. With none of these set, auth is off. */
export interface AuthOptions {
  /** HS256 shared secret for JWTs (at least 32 bytes). */
  jwtSecret?: string;
  /** JWKS for RS/PS/ES/EdDSA JWTs: an `https://…` URL, a file path, or the key set. */
  jwks?: string | JSONWebKeySet;
  /** Accepted JWT issuer(s). */
  jwtIssuer?: string | string[];
  /** Accepted JWT audience(s). */
  jwtAudience?: string | string[];
  /** Seconds of clock skew tolerated on `exp`. Default 0. */
  clockToleranceSec?: number;
  /** Keys for server-to-server callers (at least 16 characters each); each grants everything. */
  apiKeys?: string[];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Turns credentials into a principal. With auth off every caller is anonymous (with the
 * policy's `anonymous` grants); with auth on a caller needs a valid JWT or API key.
 *
 * @example
 * ```ts
 * const auth = new Authenticator({ jwtSecret: secret }, new PermissionPolicy());
 * const principal = await auth.authenticate(bearerToken); // throws WirehubError('unauthorized')
 * ```
 */
export class Authenticator implements TokenVerifier {
  readonly enabled: boolean;
  private readonly jwt: JwtVerifier | undefined;
  /** SHA-256 of each key: compared in constant time, and the keys themselves are not kept. */
  private readonly apiKeys: Buffer[];
  private readonly anonymous: Principal;
  private readonly toleranceMs: number;

  constructor(
    o: AuthOptions,
    private readonly policy: PermissionPolicy,
  ) {
    for (const key of o.apiKeys ?? []) {
      if (key.length < MIN_API_KEY_LENGTH)
        throw new Error(`API keys must be at least ${MIN_API_KEY_LENGTH} characters long`);
    }
    this.apiKeys = (o.apiKeys ?? []).map(digest);
    this.jwt =
      o.jwtSecret !== undefined || o.jwks !== undefined
        ? new JwtVerifier({
            secret: o.jwtSecret,
            jwks: o.jwks,
            issuer: o.jwtIssuer,
            audience: o.jwtAudience,
            clockToleranceSec: o.clockToleranceSec,
          })
        : undefined;
    this.toleranceMs = Math.max(0, o.clockToleranceSec ?? 0) * 1000;
    this.enabled = this.jwt !== undefined || this.apiKeys.length > 0;
    this.anonymous = anonymousPrincipal(policy.anonymous);
  }

  /** Which ways in are configured, for the start-up log. */
  get modes(): string[] {
    if (!this.enabled) return ['none'];
    return [...(this.jwt ? ['jwt'] : []), ...(this.apiKeys.length > 0 ? ['api-key'] : [])];
  }

  /**
   * The principal for a request's credential: anonymous when auth is off (a credential is
   * then ignored), otherwise the verified JWT or API key. Throws `unauthorized`.
   */
  /**
   * `authenticate`, without a promise when auth is off: the upgrade path answers at once then
   * (a promise and its await cost every connect+close, bench/churn-ab.ts).
   */
  authenticateNow(credential: string | undefined): Principal | Promise<Principal> {
    return this.enabled ? this.authenticate(credential) : this.anonymous;
  }

  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!this.enabled) return this.anonymous;
    if (credential === undefined || credential === '') {
      throw new WirehubError(
        'unauthorized',
        'a token is required: send Authorization: Bearer <token> (or ?access_token= on a WebSocket upgrade)',
        {
          reason: 'missing',
        },
      );
    }
    return this.verifyToken(credential);
  }

  /**
   * Verifies a JWT or API key. Throws `unauthorized` when it is bad, expired or unknown.
   * With auth off the token is ignored, as on an upgrade: the caller is anonymous.
   */
  async verifyToken(token: string): Promise<Principal> {
    if (!this.enabled) return this.anonymous;
    const index = this.apiKeyIndex(token);
    if (index >= 0) {
      return {
        user: `api-key:${index + 1}`,
        method: 'api-key',
        claims: {},
        expiresAt: undefined,
        permissions: new Permissions(ALL_GRANTS, `api-key:${index + 1}`),
      };
    }
    if (!this.jwt) {
      throw new WirehubError('unauthorized', 'the API key is not valid', { reason: 'bad_key' });
    }
    const claims = await this.jwt.verify(token);
    const user = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
    const grants = this.policy.grantsFor(claims);
    return {
      user,
      method: 'jwt',
      claims,
      // The connection lives as long as verification would still accept the token.
      expiresAt: claims.exp * 1000 + this.toleranceMs,
      permissions: new Permissions(grants, user),
    };
  }

  private apiKeyIndex(token: string): number {
    if (this.apiKeys.length === 0) return -1;
    const candidate = digest(token);
    let found = -1;
    // Check every key so the time taken does not tell which one (or whether one) matched.
    this.apiKeys.forEach((key, i) => {
      if (timingSafeEqual(key, candidate) && found === -1) found = i;
    });
    return found;
  }
}
