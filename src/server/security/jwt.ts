import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { WirehubError } from '../../protocol/index.js';

/** Algorithms a JWKS may sign with. `none` is never accepted, and neither is HS* from a JWKS. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** HS256 secrets shorter than this are refused: they can be brute-forced offline from any token. */
export const MIN_SECRET_BYTES = 32;

export interface JwtOptions {
  /** HS256 shared secret (at least 32 bytes). */
  secret?: string;
  /** A JWKS: an `https://…` URL, a file path, or the key set itself. */
  jwks?: string | JSONWebKeySet;
  /** Accepted `iss` value(s); unchecked when absent. */
  issuer?: string | string[];
  /** Accepted `aud` value(s); unchecked when absent. */
  audience?: string | string[];
  /** Seconds of clock skew tolerated on `exp`/`nbf`. Default 0. */
  clockToleranceSec?: number;
}

/** True when `value` names a remote JWKS rather than a file. */
export function isJwksUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/** Reads and checks a JWKS file; throws an Error that says what is wrong with it. */
export function readJwksFile(path: string): JSONWebKeySet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the JWKS file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the JWKS file ${path} is not valid JSON`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => k !== null && typeof k === 'object')) {
    throw new Error(`the JWKS file ${path} must be an object with a non-empty "keys" array`);
  }
  return parsed as JSONWebKeySet;
}

/**
 * Verifies JWTs: HS256 with a shared secret, and/or RS/PS/ES/EdDSA with keys from a JWKS.
 * `exp` is required and enforced; `alg: none` and algorithm confusion (an HS token checked
 * against a public key) are refused.
 *
 * @example
 * ```ts
 * const jwt = new JwtVerifier({ secret: process.env.WIREHUB_JWT_SECRET, audience: 'wirehub' });
 * const claims = await jwt.verify(token); // throws WirehubError('unauthorized')
 * ```
 */
export class JwtVerifier {
  private readonly secret: Uint8Array | undefined;
  private readonly keySet: JWTVerifyGetKey | undefined;
  private readonly algorithms: string[];

  constructor(private readonly o: JwtOptions) {
    if (o.secret !== undefined) {
      const secret = new TextEncoder().encode(o.secret);
      if (secret.byteLength < MIN_SECRET_BYTES) {
        throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes long`);
      }
      this.secret = secret;
    }
    if (o.jwks !== undefined) {
      if (typeof o.jwks !== 'string') this.keySet = createLocalJWKSet(o.jwks);
      else if (isJwksUrl(o.jwks))
        this.keySet = createRemoteJWKSet(new URL(o.jwks), { timeoutDuration: 5_000 });
      else this.keySet = createLocalJWKSet(readJwksFile(o.jwks));
    }
    if (!this.secret && !this.keySet) throw new Error('JwtVerifier needs a secret or a JWKS');
    this.algorithms = [...(this.secret ? ['HS256'] : []), ...(this.keySet ? ASYMMETRIC_ALGORITHMS : [])];
  }

  /** Returns the verified claims; throws `unauthorized` (or `not_ready` when a remote JWKS is unreachable). */
  async verify(token: string): Promise<JWTPayload & { exp: number }> {
    const secret = this.secret;
    const keySet = this.keySet;
    try {
      const { payload } = await jwtVerify(
        token,
        (header, jws) => {
          if (header.alg === 'HS256' && secret) return secret;
          if (keySet && header.alg !== undefined && ASYMMETRIC_ALGORITHMS.includes(header.alg)) {
            return keySet(header, jws);
          }
          throw new WirehubError(
            'unauthorized',
            `tokens signed with ${header.alg ?? 'no algorithm'} are not accepted`,
            {
              reason: 'algorithm',
            },
          );
        },
        {
          algorithms: this.algorithms,
          requiredClaims: ['exp'],
          clockTolerance: this.o.clockToleranceSec ?? 0,
          ...(this.o.issuer === undefined ? {} : { issuer: this.o.issuer }),
          ...(this.o.audience === undefined ? {} : { audience: this.o.audience }),
        },
      );
      return payload as JWTPayload & { exp: number };
    } catch (err) {
      throw toAuthError(err);
    }
  }
}

/** jose's errors, told to the client in words that help and leak nothing about keys. */
function toAuthError(err: unknown): WirehubError {
  if (err instanceof WirehubError) return err;
  const e = err as { code?: string; claim?: string; reason?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return new WirehubError('unauthorized', 'the token has expired', { reason: 'expired' });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new WirehubError('unauthorized', 'the token signature is not valid', {
        reason: 'bad_signature',
      });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new WirehubError('unauthorized', 'the token algorithm is not accepted', { reason: 'algorithm' });
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new WirehubError('unauthorized', 'no known key matches the token', { reason: 'unknown_key' });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = e.claim ?? 'unspecified';
      const message =
        e.reason === 'missing'
          ? `the token has no "${claim}" claim`
          : claim === 'nbf'
            ? 'the token is not valid yet'
            : `the token's "${claim}" claim is not accepted`;
      return new WirehubError('unauthorized', message, { reason: 'claim', claim });
    }
    case 'ERR_JWKS_TIMEOUT':
      return new WirehubError('not_ready', 'the token keys (JWKS) could not be fetched; try again later');
    default:
      if (e.code === undefined || e.code === 'ERR_JOSE_GENERIC')
        return new WirehubError('not_ready', 'the token keys (JWKS) could not be fetched; try again later');
      return new WirehubError('unauthorized', 'the token is malformed', { reason: 'malformed' });
  }
}
