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

  async admit(
    info: Omit<UpgradeInfo, 'principal'>,
    endpoint: EndpointDefinition<unknown>,
    host: string | undefined,
  ): Promise<Admission> {
    const { limits, store } = this.o;
    const ip = info.remoteAddress;
    if (limits.maxConnections > 0 && this.open >= limits.maxConnections) {
      throw new WirehubError(
        'node_full',
        `this node is at its limit of ${limits.maxConnections} connections`,
      );
    }
    if (limits.ipConnectionRate > 0) {
      const d = await store.take(`conn-rate:ip:${ip}`, {
        ratePerSec: limits.ipConnectionRate,
        burst: Math.max(1, limits.ipConnectionBurst),
      });
      if (!d.allowed) {
        throw new WirehubError('rate_limited', 'too many connection attempts from this address', {
          retryAfterMs: d.retryAfterMs,
        });
      }
    }
    const ipKey = `conns:ip:${ip}`;
    const perIp = limits.maxConnectionsPerIp > 0;
    if (perIp && !(await store.acquire(ipKey, limits.maxConnectionsPerIp))) {
      throw new WirehubError(
        'rate_limited',
        `too many open connections from this address (limit ${limits.maxConnectionsPerIp})`,
        { retryAfterMs: 1_000 },
      );
    }
    this.open += 1;
    const admission = new HeldAdmission(this, perIp ? ipKey : undefined);
    try {
      this.o.origins.check(firstHeader(info.headers.origin), host);
      const principal = await this.o.auth.authenticate(credentialOf(info));
      assertMayPassWithoutAuth(this.o.auth.enabled, ip, { endpoint });
      principal.permissions.assert('endpoint', endpoint.name);
      admission.principal = principal;
      return admission;
    } catch (err) {
      admission.release();
      throw err;
    }
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
 * One admitted connection's slots. An object with a method rather than a closure: every open
 * connection holds one, and a closure and its context cost twice as much as these fields.
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
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The upgrade's token: `Authorization: Bearer` first, else the `access_token` query parameter. */
function credentialOf(info: Omit<UpgradeInfo, 'principal'>): string | undefined {
  return bearerToken(info.headers.authorization) ?? info.query.get(TOKEN_QUERY_PARAM) ?? undefined;
}
