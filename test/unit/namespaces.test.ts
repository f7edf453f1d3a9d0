import { describe, expect, it } from 'vitest';
import { Namespaces } from '../../src/hub/namespaces.js';

describe('Namespaces', () => {
  it('has the built-in namespaces with their policies', () => {
    const ns = new Namespaces();
    expect(ns.require('chat:lobby')).toMatchObject({
      pattern: 'chat:*',
      history: { size: 100, ttlMs: 86_400_000 },
      presence: true,
      joinLeave: true,
      publish: 'anyone',
    });
    expect(ns.require('broadcast')).toMatchObject({ history: undefined, presence: false, publish: 'anyone' });
    expect(ns.require('run:r-1')).toMatchObject({ publish: 'server', history: { size: 100_000 } });
    expect(ns.require('stream:prices')).toMatchObject({ history: undefined, overflow: 'drop' });
    expect(ns.require('ws')).toMatchObject({ publish: 'server' });
  });

  it('matches exact names and prefixes only as configured', () => {
    const ns = new Namespaces();
    expect(ns.find('broadcast:x')).toBeUndefined();
    expect(ns.find('chat')).toBeUndefined();
    expect(ns.find('stream')).toBeUndefined();
    expect(() => ns.require('chat')).toThrow(expect.objectContaining({ code: 'unknown_namespace' }));
    expect(() => ns.require('chat:a b')).toThrow(expect.objectContaining({ code: 'bad_channel' }));
  });

  it('lets config replace a built-in namespace and add new ones', () => {
    const ns = new Namespaces([
      { pattern: 'chat:*', history: { size: 5, ttlMs: 1000 }, joinLeaveDebounceMs: 0 },
      { pattern: 'prices:*', history: { size: 10, ttlMs: 60_000 }, publish: 'server' },
      { pattern: 'alerts' },
    ]);
    expect(ns.require('chat:a')).toMatchObject({
      history: { size: 5, ttlMs: 1000 },
      presence: false,
      joinLeave: false,
    });
    expect(ns.require('prices:eur')).toMatchObject({ publish: 'server' });
    expect(ns.require('alerts')).toMatchObject({ history: undefined });
    expect(new Namespaces([], { builtins: false }).find('chat:a')).toBeUndefined();
  });

  it('refuses malformed configs', () => {
    expect(() => new Namespaces([{ pattern: 'a*' }])).toThrow(/pattern/);
    expect(() => new Namespaces([{ pattern: 'a:b' }])).toThrow(/pattern/);
    expect(() => new Namespaces([{ pattern: 'a:*', history: { size: 0, ttlMs: 1 } }])).toThrow(/history/);
  });
});
