import { describe, expect, it } from 'vitest';
import {
  parseDuration,
  parseHttpUrl,
  parseLogLevel,
  parsePort,
  parseRedisUrl,
  parseSize,
  parseSqliteSync,
} from '../../src/cli/parse.js';

describe('CLI value parsers', () => {
  it('parses durations', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('25s')).toBe(25_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    for (const bad of ['', 'abc', '-1s', '5 days']) expect(() => parseDuration(bad), bad).toThrow();
    // A bare number is ambiguous (seconds to a person, milliseconds to the old parser).
    expect(() => parseDuration('5')).toThrow('"5" has no unit: write 5s or 5ms');
    expect(() => parseDuration('25000')).toThrow(/no unit/);
  });

  it('takes a server URL in its http(s) and ws(s) forms', () => {
    expect(parseHttpUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(parseHttpUrl('ws://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(parseHttpUrl('wss://hub.example.com')).toBe('https://hub.example.com');
    expect(() => parseHttpUrl('ftp://h')).toThrow(/http:\/\/, https:\/\/, ws:\/\/ or wss:\/\//);
  });

  it('parses sizes with binary multiples', () => {
    expect(parseSize('65536')).toBe(65_536);
    expect(parseSize('64KiB')).toBe(65_536);
    expect(parseSize('1mb')).toBe(1_048_576);
    for (const bad of ['', '0', 'lots', '-4k']) expect(() => parseSize(bad), bad).toThrow();
  });

  it('parses ports and log levels', () => {
    expect(parsePort('0')).toBe(0);
    expect(parsePort('65535')).toBe(65_535);
    for (const bad of ['65536', '-1', 'http', '8080x']) expect(() => parsePort(bad), bad).toThrow();
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(() => parseLogLevel('loud')).toThrow();
  });

  it('parses the SQLite sync mode', () => {
    expect(parseSqliteSync('normal')).toBe('normal');
    expect(parseSqliteSync(' FULL ')).toBe('full');
    for (const bad of ['', 'off', 'extra', '1'])
      expect(() => parseSqliteSync(bad), bad).toThrow(/normal, full/);
  });

  it('parses Redis URLs', () => {
    for (const good of ['redis://127.0.0.1:6379', 'redis://h:6379/2', 'rediss://u:p@h', 'redis://h/'])
      expect(parseRedisUrl(good), good).toBe(good);
    for (const bad of ['', '127.0.0.1:6379', 'http://h:6379', 'redis://h:6379/db', 'redis://'])
      expect(() => parseRedisUrl(bad), bad).toThrow();
  });
});
