import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorFromClose, errorFromFrame, errorFromUpgrade } from '../../src/client/errors.js';
import { backoffDelay, resolveBackoff, rtUrl } from '../../src/client/index.js';
import { upgradeStatusOf } from '../../src/client/websocket.js';

describe('client layering', () => {
  it("src/client imports only the protocol, and zod only for the Node entry's runEventSchema (it runs in browsers)", () => {
    const dir = new URL('../../src/client/', import.meta.url);
    let checked = 0;
    for (const file of readdirSync(dir)) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const [statement, spec] of source.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)';/gm)) {
        expect(spec, `${file} imports ${spec}`).toMatch(/^(\.\/[\w-]+\.js|\.\.\/protocol\/[\w-]+\.js|zod)$/);
        // zod's code stays out of the browser bundle (sdk-size.test.ts checks the bundle itself).
        if (spec === 'zod' && file !== 'run-event-schema.ts')
          expect(statement, file).toMatch(/^import type /);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('src/react imports React and the zod-free browser SDK only (React stays a peer, not bundled)', () => {
    const dir = new URL('../../src/react/', import.meta.url);
    let checked = 0;
    for (const file of readdirSync(dir)) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const [statement, spec] of source.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)';/gm)) {
        expect(spec, `${file} imports ${spec}`).toMatch(
          /^(\.\/[\w-]+\.js|\.\.\/client\/browser\.js|\.\.\/protocol\/rt\.js|react)$/,
        );
        if (spec === '../protocol/rt.js') expect(statement, file).toMatch(/^import type /);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });
});

describe('rtUrl', () => {
  it('turns http(s) into ws(s), adds /rt to a bare or slash-ended path, and the token as access_token', () => {
    expect(rtUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/rt');
    expect(rtUrl('https://hub.example.com/')).toBe('wss://hub.example.com/rt');
    expect(rtUrl('ws://h:1/prefix/')).toBe('ws://h:1/prefix/rt');
    expect(rtUrl('wss://h/rt', 'a b&c')).toBe('wss://h/rt?access_token=a+b%26c');
    expect(rtUrl('ws://h/custom#x')).toBe('ws://h/custom');
    expect(() => rtUrl('ftp://h')).toThrow(/unsupported URL scheme/);
    expect(() => rtUrl(undefined)).toThrow(/pass the server URL/);
  });
});

describe('backoff', () => {
  it('grows exponentially to the cap, with jitter taking up to the configured share', () => {
    const b = resolveBackoff({ minDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 });
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, b, () => 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(3, b, () => 1)).toBe(200);
    expect(backoffDelay(3, b, () => 0.5)).toBe(300);
    expect(() => resolveBackoff({ jitter: 2 })).toThrow(RangeError);
    expect(() => resolveBackoff({ minDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
  });
});

describe('client errors', () => {
  it('maps error frames, close codes and refused upgrades to catalog codes', () => {
    expect(errorFromFrame({ code: 'forbidden', message: 'no' })).toMatchObject({
      code: 'forbidden',
      status: 403,
    });
    expect(errorFromFrame({ code: 'from_the_future', message: 'x', details: 1 })).toMatchObject({
      code: 'internal',
      details: { code: 'from_the_future', details: 1 },
    });
    expect(errorFromClose(4001, 'token expired')).toMatchObject({
      code: 'unauthorized',
      details: { closeCode: 4001, reason: 'token expired' },
    });
    expect(errorFromClose(1008, '').code).toBe('forbidden');
    expect(errorFromClose(1006, '').code).toBe('disconnected');
    expect([401, 403, 404, 429, 503, 400, 500].map((s) => errorFromUpgrade(s).code)).toEqual([
      'unauthorized',
      'forbidden',
      'not_found',
      'rate_limited',
      'not_ready',
      'bad_request',
      'disconnected',
    ]);
    expect(upgradeStatusOf({ message: 'Unexpected server response: 401' })).toBe(401);
    expect(upgradeStatusOf({ type: 'error' })).toBeUndefined();
  });
});
