import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { SQLITE_SYNC_MODES, type SqliteSync } from '../engine/sqlite/sync-mode.js';
import { type NamespaceConfig, parseNamespaceConfigs } from '../hub/namespaces.js';
import { resolveDashboardPath } from '../server/http/builtin-routes.js';
import { LOG_FORMATS, type LogFormat } from '../server/pino-logger.js';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const sizeUnits: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

const DURATION_FORMS = 'a number with a unit: 500ms, 25s, 1.5m, 12h or 7d';

/**
 * `500ms`, `25s`, `1.5m`, `12h`, `7d` → milliseconds. A bare number other than 0 is refused:
 * `--duration 5` meant seconds to the person who typed it and milliseconds to the parser.
 */
export function parseDuration(raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration: ${DURATION_FORMS}`);
  const value = Number(m[1]);
  const unit = m[2];
  if (unit === undefined) {
    if (value === 0) return 0;
    throw new InvalidArgumentError(
      `"${raw.trim()}" has no unit: write ${m[1]}s or ${m[1]}ms (${DURATION_FORMS})`,
    );
  }
  return Math.round(value * (durationUnits[unit.toLowerCase()] ?? 1));
}

/** A duration (as `parseDuration`) of at least `min` ms, which the refusal shows as `shown`. */
export function parseDurationAtLeast(min: number, shown = `${min}ms`): (raw: string) => number {
  return (raw: string) => {
    const ms = parseDuration(raw);
    if (ms < min) throw new InvalidArgumentError(`must be at least ${shown}`);
    return ms;
  };
}

/** `--run-retention`: how long ended runs are kept; at least a second, so a watcher can still read the end. */
export const parseRunRetention: (raw: string) => number = parseDurationAtLeast(1000, '1s');

/** `65536`, `64KiB`, `1MB` → bytes (binary multiples; a bare number is bytes). */
export function parseSize(raw: string): number {
  const m = SIZE.exec(raw.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 65536, 64KiB or 1MiB');
  const bytes = Math.round(Number(m[1]) * (sizeUnits[(m[2] ?? 'b').toLowerCase()] ?? 1));
  if (bytes < 1) throw new InvalidArgumentError('must be at least 1 byte');
  return bytes;
}

export function parsePort(raw: string): number {
  const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function parseLogLevel(raw: string): string {
  const level = raw.trim().toLowerCase();
  if (!LEVELS.includes(level)) throw new InvalidArgumentError(`expected one of ${LEVELS.join(', ')}`);
  return level;
}

/** `--log-format`: `json` or `pretty`. */
export function parseLogFormat(raw: string): LogFormat {
  const format = raw.trim().toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidArgumentError(`expected one of ${LOG_FORMATS.join(', ')}`);
  }
  return format as LogFormat;
}

/** Readable lines for a person at a terminal, JSON lines for a log collector. */
export function defaultLogFormat(): LogFormat {
  return process.stdout.isTTY === true ? 'pretty' : 'json';
}

/** `normal` or `full` (see `SqliteSync`). */
export function parseSqliteSync(raw: string): SqliteSync {
  const mode = raw.trim().toLowerCase();
  const found = SQLITE_SYNC_MODES.find((m) => m === mode);
  if (!found) throw new InvalidArgumentError(`expected one of ${SQLITE_SYNC_MODES.join(', ')}`);
  return found;
}

export function parseHost(raw: string): string {
  const host = raw.trim();
  if (host === '' || /[\s/]/.test(host)) throw new InvalidArgumentError('expected a host name or IP address');
  return host;
}

export function parseNonEmpty(raw: string): string {
  if (raw.trim() === '') throw new InvalidArgumentError('must not be empty');
  return raw;
}

/** A whole number ≥ `min`. */
export function parseIntAtLeast(min: number): (raw: string) => number {
  return (raw: string) => {
    const n = /^\d{1,9}$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!(n >= min)) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
    return n;
  };
}

/** A whole number from `min` to `max`. */
export function parseIntBetween(min: number, max: number): (raw: string) => number {
  return (raw: string) => {
    const n = /^\d{1,9}$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!(n >= min && n <= max))
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** An absolute http(s) URL, without a trailing slash. */
export function parseHttpUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new InvalidArgumentError('expected an absolute URL such as http://127.0.0.1:8080');
  }
  // The server's ws:// address means the same server: accept both forms everywhere.
  if (url.protocol === 'ws:' || url.protocol === 'wss:')
    url.protocol = url.protocol === 'ws:' ? 'http:' : 'https:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('expected an http://, https://, ws:// or wss:// URL');
  }
  return url.href.replace(/\/+$/, '');
}

/** Repeatable list flag: each use (or a comma-separated env value) adds to the list. */
export function collectList(raw: string, previous: string[] | undefined): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('must not be empty');
  return [...(previous ?? []), ...items];
}

/** A whole number ≥ 1. */
export const parsePositiveInt: (raw: string) => number = parseIntAtLeast(1);

/** A JSON file holding an array of channel namespace configs. */
export function parseNamespacesFile(path: string): NamespaceConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseNamespaceConfigs(json);
  } catch (err) {
    throw new InvalidArgumentError(`${path}: ${(err as Error).message}`);
  }
}

/**
 * `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS): checked here so a typo
 * stops the server with a usage error instead of an endless reconnect loop.
 */
export function parseRedisUrl(raw: string): string {
  const value = raw.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(
      'expected a Redis URL such as redis://127.0.0.1:6379 or redis://host:6379/2',
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InvalidArgumentError(`expected a redis:// or rediss:// URL, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new InvalidArgumentError('the Redis URL has no host');
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) {
    throw new InvalidArgumentError('the path of a Redis URL is a database number, e.g. redis://host:6379/2');
  }
  return value;
}

/** `--dashboard`: `false` (no dashboard page), `true` (at `/`), or the path to serve it at. */
export function parseDashboard(raw: string): string | false {
  const value = raw.trim();
  if (value === 'false') return false;
  try {
    return resolveDashboardPath(value === 'true' ? true : value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^dashboard must be/, 'expected'));
  }
}

/** Most worker processes `--workers` starts. */
export const MAX_WORKERS = 256;

/** `--workers`: `auto` (one per CPU: `os.availableParallelism()`) or a whole number from 1. */
export function parseWorkers(raw: string): number {
  if (raw.trim() === 'auto') return availableParallelism();
  return parseIntBetween(1, MAX_WORKERS)(raw);
}
