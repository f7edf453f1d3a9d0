import { existsSync, readFileSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { permissionConfigSchema } from '../hub/permissions.js';
import { serverDefaults } from '../server/defaults.js';
import type { ServerOptions } from '../server/options.js';
import { MIN_API_KEY_LENGTH } from '../server/security/authenticator.js';
import { ProxyTrust } from '../server/security/client-ip.js';
import { isJwksUrl, MIN_SECRET_BYTES, readJwksFile } from '../server/security/jwt.js';
import { defaultLimits } from '../server/security/limits.js';
import { parseOriginRule } from '../server/security/origin-policy.js';
import { parseDuration } from './parse.js';

/** The parsed security flags of `wirehub serve`. */
export interface SecurityFlags {
  jwtSecret?: string;
  jwks?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  apiKey?: string[];
  permissions?: ServerOptions['permissions'];
  allowedOrigins?: string[];
  maxConnections: number;
  maxConnectionsPerIp: number;
  ipConnectionRate: number;
  ipConnectionBurst: number;
  messageRate: number;
  messageBurst: number;
  maxRunsPerUser: number;
  tlsCert?: string;
  tlsKey?: string;
  trustProxy?: string[];
  headersTimeout: number;
  requestTimeout: number;
  publicMetrics?: boolean;
  allowPublicWithoutAuth?: boolean;
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function parseCount(raw: string): number {
  if (!/^\d+$/.test(raw.trim()))
    throw new InvalidArgumentError('expected a whole number (0 turns the limit off)');
  return Number(raw);
}

export function parsePositive(raw: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1)
    throw new InvalidArgumentError('expected a whole number >= 1');
  return Number(raw);
}

export function parseJwtSecret(raw: string): string {
  if (Buffer.byteLength(raw) < MIN_SECRET_BYTES) {
    throw new InvalidArgumentError(
      `the secret must be at least ${MIN_SECRET_BYTES} bytes (e.g. openssl rand -base64 32)`,
    );
  }
  return raw;
}

export function parseJwks(raw: string): string {
  if (isJwksUrl(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new InvalidArgumentError('not a valid URL');
    }
    return raw;
  }
  try {
    readJwksFile(raw);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return raw;
}

/** Each `--api-key` adds one; `WIREHUB_API_KEYS` (or a flag value) may hold several, comma-separated. */
export function parseApiKeys(raw: string, previous: string[] | undefined): string[] {
  const keys = list(raw);
  for (const key of keys) {
    if (key.length < MIN_API_KEY_LENGTH)
      throw new InvalidArgumentError(`API keys must be at least ${MIN_API_KEY_LENGTH} characters`);
  }
  return [...(previous ?? []), ...keys];
}

export function parsePermissionsFile(raw: string): ServerOptions['permissions'] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(raw, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${raw} as JSON: ${(err as Error).message}`);
  }
  const parsed = permissionConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(`${raw}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

export function parseOrigins(raw: string): string[] {
  const origins = list(raw);
  for (const origin of origins) {
    try {
      parseOriginRule(origin);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  }
  return origins;
}

export function parseTrustProxy(raw: string): string[] {
  const entries = list(raw);
  try {
    new ProxyTrust(entries);
  } catch (err) {
    throw new InvalidArgumentError(
      `${(err as Error).message}; expected IPs, CIDRs, loopback, linklocal or uniquelocal, comma-separated`,
    );
  }
  return entries;
}

export function parseReadableFile(raw: string): string {
  if (!existsSync(raw)) throw new InvalidArgumentError(`no such file: ${raw}`);
  return raw;
}

function flag<T>(flags: string, description: string, env: string, parse: (raw: string, prev: T) => T) {
  return new Option(flags, description).env(env).argParser(parse);
}

function limit(flags: string, description: string, env: string, fallback: number) {
  return flag(flags, `${description} (0 = off)`, env, parseCount).default(fallback);
}

function burst(flags: string, description: string, env: string, fallback: number) {
  return flag(flags, description, env, parsePositive).default(fallback);
}

/** The security flags of `wirehub serve`, each also a `WIREHUB_*` variable. */
export function securityOptions(): Option[] {
  return [
    flag(
      '--jwt-secret <secret>',
      'turn auth on: HS256 secret for JWTs (32+ bytes)',
      'WIREHUB_JWT_SECRET',
      parseJwtSecret,
    ),
    flag('--jwks <file|url>', 'turn auth on: JWKS for RS/PS/ES/EdDSA JWTs', 'WIREHUB_JWKS', parseJwks),
    flag(
      '--jwt-issuer <iss>',
      'accept only JWTs from this issuer',
      'WIREHUB_JWT_ISSUER',
      (raw: string) => raw,
    ),
    flag(
      '--jwt-audience <aud>',
      'accept only JWTs for this audience',
      'WIREHUB_JWT_AUDIENCE',
      (raw: string) => raw,
    ),
    flag(
      '--api-key <key>',
      'turn auth on: an API key for server-to-server callers (repeatable; env WIREHUB_API_KEYS, comma-separated)',
      'WIREHUB_API_KEYS',
      parseApiKeys,
    ),
    flag(
      '--permissions <file>',
      'JSON permission config (grants by role)',
      'WIREHUB_PERMISSIONS',
      parsePermissionsFile,
    ),
    flag(
      '--allowed-origins <list>',
      'origins whose pages may open WebSockets, besides this server (comma-separated; * = any)',
      'WIREHUB_ALLOWED_ORIGINS',
      parseOrigins,
    ),
    limit(
      '--max-connections <n>',
      'open WebSockets on this node; over it 503',
      'WIREHUB_MAX_CONNECTIONS',
      defaultLimits.maxConnections,
    ),
    limit(
      '--max-connections-per-ip <n>',
      'open WebSockets per client IP; over it 429',
      'WIREHUB_MAX_CONNECTIONS_PER_IP',
      defaultLimits.maxConnectionsPerIp,
    ),
    limit(
      '--ip-connection-rate <n>',
      'upgrade attempts per second per client IP; over it 429',
      'WIREHUB_IP_CONNECTION_RATE',
      defaultLimits.ipConnectionRate,
    ),
    burst(
      '--ip-connection-burst <n>',
      'upgrade attempts one client IP may burst',
      'WIREHUB_IP_CONNECTION_BURST',
      defaultLimits.ipConnectionBurst,
    ),
    limit(
      '--message-rate <n>',
      'messages per second per connection; over it rate_limited errors, then 4029',
      'WIREHUB_MESSAGE_RATE',
      defaultLimits.messageRate,
    ),
    burst(
      '--message-burst <n>',
      'messages one connection may burst',
      'WIREHUB_MESSAGE_BURST',
      defaultLimits.messageBurst,
    ),
    limit(
      '--max-runs-per-user <n>',
      'runs one user (JWT sub) may have in progress at once; over it too_many_runs',
      'WIREHUB_MAX_RUNS_PER_USER',
      defaultLimits.maxRunsPerUser,
    ),
    flag(
      '--tls-cert <file>',
      'serve https/wss with this PEM certificate (needs --tls-key)',
      'WIREHUB_TLS_CERT',
      parseReadableFile,
    ),
    flag('--tls-key <file>', 'PEM private key for --tls-cert', 'WIREHUB_TLS_KEY', parseReadableFile),
    flag(
      '--trust-proxy <list>',
      'proxies trusted for X-Forwarded-For: IPs, CIDRs, loopback, linklocal, uniquelocal (comma-separated)',
      'WIREHUB_TRUST_PROXY',
      parseTrustProxy,
    ),
    flag(
      '--headers-timeout <duration>',
      'time a client has to send its request headers',
      'WIREHUB_HEADERS_TIMEOUT',
      parseDuration,
    ).default(serverDefaults.headersTimeoutMs, '10s'),
    flag(
      '--request-timeout <duration>',
      'time a client has to send a whole request',
      'WIREHUB_REQUEST_TIMEOUT',
      parseDuration,
    ).default(serverDefaults.requestTimeoutMs, '30s'),
    new Option('--public-metrics', 'serve /metrics without credentials when auth is on').env(
      'WIREHUB_PUBLIC_METRICS',
    ),
    new Option(
      '--allow-public-without-auth',
      'start without auth on a non-loopback --host: other machines get only /ws, /echo, /broadcast, /stream, /chat/{room} and the pages; the rest answers this machine only',
    ).env('WIREHUB_ALLOW_PUBLIC_WITHOUT_AUTH'),
  ];
}

/** A usage error the serve action finds after parsing (flags that only make sense together). */
export function securityFlagsProblem(f: SecurityFlags): string | undefined {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) return '--tls-cert and --tls-key go together';
  if ((f.jwtIssuer !== undefined || f.jwtAudience !== undefined) && !f.jwtSecret && !f.jwks) {
    return '--jwt-issuer and --jwt-audience need --jwt-secret or --jwks';
  }
  return undefined;
}

/**
 * A switch set by its flag or its variable: commander turns any value of the variable into
 * `true`, so `0`, `false`, `no`, `off` and an empty value are read here as off.
 */
function switchOn(value: boolean | undefined, env: string): boolean {
  const raw = process.env[env]?.trim().toLowerCase();
  return value === true && !['0', 'false', 'no', 'off', ''].includes(raw ?? 'true');
}

/** True when the flags turn auth on (as `Authenticator.enabled` will say). */
export function authFlagsSet(f: SecurityFlags): boolean {
  return f.jwtSecret !== undefined || f.jwks !== undefined || (f.apiKey?.length ?? 0) > 0;
}

/** Turns the parsed flags into server options (reads the TLS files). */
export function toServerSecurityOptions(f: SecurityFlags): ServerOptions {
  return {
    auth: {
      jwtSecret: f.jwtSecret,
      jwks: f.jwks,
      jwtIssuer: f.jwtIssuer,
      jwtAudience: f.jwtAudience,
      apiKeys: f.apiKey,
    },
    permissions: f.permissions,
    allowedOrigins: f.allowedOrigins,
    limits: {
      maxConnections: f.maxConnections,
      maxConnectionsPerIp: f.maxConnectionsPerIp,
      ipConnectionRate: f.ipConnectionRate,
      ipConnectionBurst: f.ipConnectionBurst,
      messageRate: f.messageRate,
      messageBurst: f.messageBurst,
      maxRunsPerUser: f.maxRunsPerUser,
    },
    tls:
      f.tlsCert !== undefined && f.tlsKey !== undefined
        ? { cert: readFileSync(f.tlsCert), key: readFileSync(f.tlsKey) }
        : undefined,
    trustProxy: f.trustProxy,
    headersTimeoutMs: f.headersTimeout,
    requestTimeoutMs: f.requestTimeout,
    publicMetrics: switchOn(f.publicMetrics, 'WIREHUB_PUBLIC_METRICS'),
    allowPublicWithoutAuth: switchOn(f.allowPublicWithoutAuth, 'WIREHUB_ALLOW_PUBLIC_WITHOUT_AUTH'),
  };
}
