import type { EndpointDefinition, UpgradeInfo } from '../../endpoints/endpoint.js';
import type { LimitStore } from '../../engine/limits.js';
import type { Principal } from '../../hub/principal.js';
import { WirehubError } from '../../protocol/index.js';
import type { Logger } from '../../util/logger.js';
import type { Authenticator } from './authenticator.js';
import type { ResolvedLimits } from './limits.js';
import type { OriginPolicy } from './origin-policy.js';
import { assertMayPassWithoutAuth } from './unauthenticated-access.js';

/** The query parameter a browser may carry its token in (RFC 6750 §2.3 names it so). */
export const TOKEN_QUERY_PARAM = 'access_token';

/** An admitted upgrade: who it is, and what to give back when the connection ends. */
export interface Admission {
  principal: Principal;
  /** Frees the connection's slots; safe to call more than once. */
  release(): void;
  /**
   * Hands the slots to the session that holds them from now on: answers the per-IP slot's key
   * (undefined when that limit is off), which the session gives back with
   * `UpgradeSecurity.releaseSlot` when it closes; `release` does nothing after this. An open
   * connection then keeps a string (or nothing), not this object: 48 bytes each on Bun.
   */
  handOver(): string | undefined;
}

export interface UpgradeSecurityOptions {
  auth: Authenticator;
  origins: OriginPolicy;
  limits: ResolvedLimits;
  store: LimitStore;
  log: Logger;
}

/** `Authorization: Bearer <token>` → the token. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * Security at the upgrade gate, cheapest check first so a flood costs little: node capacity
 * (503), connection rate and open connections per client IP (429), Origin (403), credentials
 * (401), with auth off the loopback-only rule for non-public endpoints (403, see
 * `assertMayPassWithoutAuth`), and the principal's right to open this endpoint (403). Every refusal happens before
 * any socket is opened. The rate and count state lives in a `LimitStore`.
 */
export class UpgradeSecurity {
  private open = 0;

  constructor(private readonly o: UpgradeSecurityOptions) {}

  /** Connections admitted on this node and not yet released (pending handshakes included). */
  get admitted(): number {
    return this.open;
  }

  /**
   * Admits an upgrade or throws the refusal. Synchronous when every step is (the in-memory
   * limit store, no auth or an API key), a promise otherwise: a connect+close paid for
   * three async frames and their awaits even when nothing waited.
   */
  admit(
    info: Omit<UpgradeInfo, 'principal'>,
    endpoint: EndpointDefinition<unknown>,
    host: string | undefined,
  ): Admission | Promise<Admission> {
    const { limits, store } = this.o;
    if (limits.maxConnections > 0 && this.open >= limits.maxConnections) {
      throw new WirehubError(
        'node_full',
        `this node is at its limit of ${limits.maxConnections} connections`,
      );
    }
    if (limits.ipConnectionRate > 0) {
      const d = store.take(`conn-rate:ip:${info.remoteAddress}`, {
        ratePerSec: limits.ipConnectionRate,
        burst: Math.max(1, limits.ipConnectionBurst),
      });
      if (isPromise(d))
        return d.then((decided) => {
          assertRateAllowed(decided);
          return this.admitCounted(info, endpoint, host);
        });
      assertRateAllowed(d);
    }
    return this.admitCounted(info, endpoint, host);
  }

  /** The per-IP count, then the rest of `admit`. */
  private admitCounted(
    info: Omit<UpgradeInfo, 'principal'>,
    endpoint: EndpointDefinition<unknown>,
    host: string | undefined,
  ): Admission | Promise<Admission> {
    const { limits, store } = this.o;
    if (limits.maxConnectionsPerIp <= 0) return this.hold(info, endpoint, host, undefined);
    const ipKey = `conns:ip:${info.remoteAddress}`;
    const acquired = store.acquire(ipKey, limits.maxConnectionsPerIp);
    if (isPromise(acquired))
      return acquired.then((ok) => {
        if (!ok) throw tooManyOpen(limits.maxConnectionsPerIp);
        return this.hold(info, endpoint, host, ipKey);
      });
    if (!acquired) throw tooManyOpen(limits.maxConnectionsPerIp);
    return this.hold(info, endpoint, host, ipKey);
  }

  /** Slots taken: origin, credentials, the endpoint's permission; the slots go back on refusal. */
  private hold(
    info: Omit<UpgradeInfo, 'principal'>,
    endpoint: EndpointDefinition<unknown>,
    host: string | undefined,
    ipKey: string | undefined,
  ): Admission | Promise<Admission> {
    this.open += 1;
    const admission = new HeldAdmission(this, ipKey);
    try {
      this.o.origins.check(firstHeader(info.headers.origin), host);
      const principal = this.o.auth.authenticateNow(credentialOf(info));
      if (isPromise(principal))
        return principal
          .then((p) => this.authorize(admission, p, info, endpoint))
          .catch((err: unknown) => {
            admission.release();
            throw err;
          });
      return this.authorize(admission, principal, info, endpoint);
    } catch (err) {
      admission.release();
      throw err;
    }
  }

  private authorize(
    admission: HeldAdmission,
    principal: Principal,
    info: Omit<UpgradeInfo, 'principal'>,
    endpoint: EndpointDefinition<unknown>,
  ): Admission {
    assertMayPassWithoutAuth(this.o.auth.enabled, info.remoteAddress, { endpoint });
    principal.permissions.assert('endpoint', endpoint.name);
    admission.principal = principal;
    return admission;
  }

  /** @internal Gives back what `admit` took (HeldAdmission.release). */
  releaseSlot(ipKey: string | undefined): void {
    this.open -= 1;
    if (ipKey === undefined) return;
    const { store, log } = this.o;
    // A remote store may fail; the slot then expires there, and this process goes on.
    Promise.resolve()
      .then(() => store.release(ipKey))
      .catch((err: unknown) => log.warn({ err, key: ipKey }, 'limit store release failed'));
  }
}

/**
 * One admitted connection's slots while its upgrade runs; the session then holds just the key
 * (`handOver`). An object with a method rather than a closure (half the bytes).
 */
class HeldAdmission implements Admission {
  principal!: Principal;
  private released = false;

  constructor(
    private readonly security: UpgradeSecurity,
    /** The per-IP slot's key when the per-IP limit is on. */
    private readonly ipKey: string | undefined,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.security.releaseSlot(this.ipKey);
  }

  handOver(): string | undefined {
    if (this.released) throw new Error('the admission was already released');
    this.released = true;
    return this.ipKey;
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function assertRateAllowed(d: { allowed: boolean; retryAfterMs: number }): void {
  if (!d.allowed) {
    throw new WirehubError('rate_limited', 'too many connection attempts from this address', {
      retryAfterMs: d.retryAfterMs,
    });
  }
}

function tooManyOpen(max: number): WirehubError {
  return new WirehubError('rate_limited', `too many open connections from this address (limit ${max})`, {
    retryAfterMs: 1_000,
  });
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The upgrade's token: `Authorization: Bearer` first, else the `access_token` query parameter. */
function credentialOf(info: Omit<UpgradeInfo, 'principal'>): string | undefined {
  return bearerToken(info.headers.authorization) ?? info.query.get(TOKEN_QUERY_PARAM) ?? undefined;
}
