import { WirehubError } from '../../protocol/index.js';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface OriginPolicyOptions {
  /**
   * Origins allowed besides the server's own: exact (`https://app.example.com`), a wildcard
   * subdomain (`https://*.example.com`), or `*` for any.
   */
  allowed?: string[];
  /** Also allow pages served from localhost / 127.0.0.1 / [::1] (the default when auth is off). */
  allowLocalhost: boolean;
}

interface Rule {
  protocol: string;
  /** Exact host (with port), or the suffix after `*.`. */
  host: string;
  wildcard: boolean;
}

/** Parses one allowlist entry; throws an Error naming what is wrong. */
export function parseOriginRule(entry: string): Rule | '*' {
  const text = entry.trim();
  if (text === '*') return '*';
  const m = /^(https?):\/\/(\*\.)?([^/?#\s]+)$/i.exec(text);
  if (!m?.[1] || !m[3]) {
    throw new Error(`"${entry}" is not an origin: use https://host[:port], https://*.domain or *`);
  }
  const url = new URL(`${m[1]}://${m[3]}`);
  return { protocol: url.protocol, host: url.host, wildcard: m[2] !== undefined };
}

/**
 * The Origin allowlist for WebSocket upgrades: the defence against cross-site WebSocket
 * hijacking, where a page on another site opens a socket with the visitor's cookies or
 * network position. Browsers always send `Origin`; a request without one comes from a
 * non-browser client (which could send any Origin it likes) and is let through, to be
 * judged by authentication.
 *
 * @example
 * ```ts
 * const policy = new OriginPolicy({ allowed: ['https://app.example.com'], allowLocalhost: false });
 * policy.check(req.headers.origin, req.headers.host); // throws WirehubError('forbidden')
 * ```
 */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly rules: Rule[] = [];

  constructor(private readonly o: OriginPolicyOptions) {
    let any = false;
    for (const entry of o.allowed ?? []) {
      const rule = parseOriginRule(entry);
      if (rule === '*') any = true;
      else this.rules.push(rule);
    }
    this.any = any;
  }

  /** Throws `forbidden` unless a request with this `Origin` to this `Host` may open a socket. */
  check(origin: string | undefined, host: string | undefined): void {
    if (origin === undefined || this.any) return;
    if (this.allows(origin, host)) return;
    throw new WirehubError('forbidden', `the origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`, {
      reason: 'origin',
    });
  }

  private allows(origin: string, host: string | undefined): boolean {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // `null` (sandboxed frames, file://) and garbage
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (url.origin === 'null' || url.username !== '' || url.pathname !== '/') return false;
    // Same origin: the page was served by this server (the browser's Host is the page's host).
    if (host !== undefined && url.host === host.toLowerCase()) return true;
    if (this.o.allowLocalhost && (LOCAL_HOSTS.has(url.hostname) || url.hostname.endsWith('.localhost')))
      return true;
    return this.rules.some((r) =>
      r.wildcard
        ? url.protocol === r.protocol && url.host.endsWith(`.${r.host}`)
        : url.protocol === r.protocol && url.host === r.host,
    );
  }
}
