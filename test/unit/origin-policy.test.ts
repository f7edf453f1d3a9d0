import { describe, expect, it } from 'vitest';
import { OriginPolicy, parseOriginRule } from '../../src/server/security/origin-policy.js';

function allowed(policy: OriginPolicy, origin: string | undefined, host = 'ws.example.com'): boolean {
  try {
    policy.check(origin, host);
    return true;
  } catch (err) {
    expect(err).toMatchObject({ code: 'forbidden', status: 403 });
    return false;
  }
}

describe('OriginPolicy', () => {
  it('allows the same origin and requests without Origin by default', () => {
    const p = new OriginPolicy({ allowLocalhost: false });
    expect(allowed(p, 'https://ws.example.com')).toBe(true);
    expect(allowed(p, 'http://WS.example.com')).toBe(true);
    expect(allowed(p, undefined)).toBe(true);
    expect(allowed(p, 'https://evil.example')).toBe(false);
    expect(allowed(p, 'https://ws.example.com.evil.example')).toBe(false);
    expect(allowed(p, 'https://ws.example.com:8443')).toBe(false);
    expect(allowed(p, 'null')).toBe(false);
    expect(allowed(p, 'file://')).toBe(false);
    expect(allowed(p, 'garbage')).toBe(false);
    expect(allowed(p, 'http://localhost:3000')).toBe(false);
  });

  it('allows localhost pages only when asked (auth off)', () => {
    const p = new OriginPolicy({ allowLocalhost: true });
    for (const o of [
      'http://localhost:3000',
      'http://127.0.0.1:5173',
      'http://[::1]:8080',
      'http://app.localhost',
    ]) {
      expect(allowed(p, o), o).toBe(true);
    }
    expect(allowed(p, 'http://localhost.evil.example')).toBe(false);
    expect(allowed(p, 'http://127.0.0.1.nip.io')).toBe(false);
  });

  it('follows the allowlist: exact, wildcard subdomains, and *', () => {
    const p = new OriginPolicy({
      allowed: ['https://app.example.org', 'https://*.example.net'],
      allowLocalhost: false,
    });
    expect(allowed(p, 'https://app.example.org')).toBe(true);
    expect(allowed(p, 'https://app.example.org:443')).toBe(true);
    expect(allowed(p, 'http://app.example.org')).toBe(false);
    expect(allowed(p, 'https://a.b.example.net')).toBe(true);
    expect(allowed(p, 'https://example.net')).toBe(false);
    expect(allowed(p, 'https://evilexample.net')).toBe(false);
    expect(allowed(new OriginPolicy({ allowed: ['*'], allowLocalhost: false }), 'https://any.where')).toBe(
      true,
    );
  });

  it('refuses allowlist entries that are not origins', () => {
    for (const bad of ['example.com', 'https://example.com/path', 'ftp://x', 'https://']) {
      expect(() => parseOriginRule(bad), bad).toThrow(/not an origin/);
    }
  });
});
