import { ALL_GRANTS, type Grants, Permissions } from './permissions.js';

/** How a connection or request proved who it is. */
export type AuthMethod = 'none' | 'jwt' | 'api-key';

/**
 * Who is on the other end of a session or HTTP request, and what they may do. Transport-free,
 * so endpoints and the hub can check permissions without seeing HTTP or ws types.
 */
export interface Principal {
  /** The user id (a token's `sub`; `api-key:<name>` for API keys); undefined when anonymous. */
  readonly user: string | undefined;
  readonly method: AuthMethod;
  /** The verified token's claims (empty for API keys and anonymous principals). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** When the credentials stop being valid (epoch ms); undefined when they do not expire. */
  readonly expiresAt: number | undefined;
  readonly permissions: Permissions;
}

/**
 * Turns a token into a principal. The server's authenticator implements it; `/rt`'s
 * `refresh {token}` uses it to extend a connection's life.
 */
export interface TokenVerifier {
  /**
   * Verifies a token; throws `WirehubError('unauthorized')` when it is missing, bad or expired.
   * A server without auth ignores the token and returns its anonymous principal.
   */
  verifyToken(token: string): Promise<Principal>;
}

/** The principal of connections and requests when auth is off. */
export function anonymousPrincipal(grants: Grants = ALL_GRANTS): Principal {
  return {
    user: undefined,
    method: 'none',
    claims: {},
    expiresAt: undefined,
    permissions: new Permissions(grants, undefined),
  };
}
