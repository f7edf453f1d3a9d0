import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** Strips the IPv4-mapped IPv6 prefix, so one client has one key. */
export function normalizeIp(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Which proxies are trusted (`--trust-proxy`: IPs, CIDRs, `loopback`, `linklocal`,
 * `uniquelocal`), and so how to find a request's client address and the Host its browser used.
 * Without trusted proxies the client is the socket's peer. With them, `X-Forwarded-For` is
 * read from the right, skipping trusted hops only, so a client cannot spoof its address by
 * sending the header itself. Fastify is given the same list, so HTTP routes and upgrades agree.
 */
export class ProxyTrust {
  private readonly trusted: ((addr: string, i: number) => boolean) | undefined;

  /** Throws on an entry that is not an IP, a CIDR or a preset name. */
  constructor(readonly list: readonly string[] = []) {
    this.trusted = list.length > 0 ? proxyAddr.compile([...list]) : undefined;
  }

  clientIp(req: IncomingMessage): string {
    if (!this.trusted) return normalizeIp(req.socket.remoteAddress ?? '');
    return normalizeIp(proxyAddr(req, this.trusted));
  }

  /** The Host the client asked for: `X-Forwarded-Host` when a trusted proxy set it. */
  host(req: IncomingMessage): string | undefined {
    const forwarded = req.headers['x-forwarded-host'];
    if (typeof forwarded === 'string' && this.trusted?.(req.socket.remoteAddress ?? '', 0)) {
      return forwarded.split(',').pop()?.trim();
    }
    return req.headers.host;
  }
}
