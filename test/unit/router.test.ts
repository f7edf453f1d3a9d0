import { describe, expect, it } from 'vitest';
import { defineEndpoint } from '../../src/endpoints/endpoint.js';
import { EndpointRouter } from '../../src/server/router.js';

const ep = (path: string) => defineEndpoint({ path, name: path, open: () => ({}) });

describe('EndpointRouter', () => {
  const router = new EndpointRouter();
  router.add(ep('/ws'));
  router.add(ep('/chat/:room'));

  it('matches static paths and decodes parameters', () => {
    expect(router.match('/ws')?.endpoint.path).toBe('/ws');
    expect(router.match('/chat/lobby')?.params).toEqual({ room: 'lobby' });
    expect(router.match('/chat/a%20b')?.params).toEqual({ room: 'a b' });
    expect(router.match('/chat/')?.params).toEqual({ room: '' });
  });

  it('does not match other shapes', () => {
    for (const p of ['/', '/ws/', '/wss', '/chat', '/chat/a/b', '/WS'])
      expect(router.match(p), p).toBeUndefined();
  });

  it('refuses undecodable parameters with bad_request', () => {
    expect(() => router.match('/chat/%E0%A4%A')).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });

  it('keeps the order of addition when a static path follows a pattern that matches it', () => {
    const r = new EndpointRouter();
    r.add(ep('/room/:id'));
    r.add(ep('/room/lobby'));
    r.add(ep('/static'));
    expect(r.match('/room/lobby')?.endpoint.path).toBe('/room/:id');
    expect(r.match('/static')?.endpoint.path).toBe('/static');
    const a = r.match('/static');
    expect(a?.params).toEqual({});
    expect(r.match('/static')?.params).not.toBe(a?.params);
  });

  it('refuses two endpoints on one path', () => {
    expect(() => router.add(ep('/ws'))).toThrow(/two endpoints/);
  });
});
