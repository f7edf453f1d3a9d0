import { describe, expect, it } from 'vitest';
import {
  ALL_GRANTS,
  mergeGrants,
  PermissionPolicy,
  Permissions,
  taskResource,
} from '../../src/hub/permissions.js';
import { WirehubError } from '../../src/protocol/index.js';

describe('Permissions', () => {
  it('matches * across separators and everything else literally', () => {
    const p = new Permissions({ subscribe: ['chat:*', 'news.sport'], tasks: ['demo/*/build'] }, undefined);
    expect(p.can('subscribe', 'chat:lobby')).toBe(true);
    expect(p.can('subscribe', 'chat:a:b')).toBe(true);
    expect(p.can('subscribe', 'chat')).toBe(false);
    expect(p.can('subscribe', 'news.sport')).toBe(true);
    // `.` is not a regex wildcard, and anchors hold.
    expect(p.can('subscribe', 'newsXsport')).toBe(false);
    expect(p.can('subscribe', 'xchat:lobby')).toBe(false);
    expect(p.can('task', taskResource('demo', 'dev', 'build'))).toBe(true);
    expect(p.can('task', taskResource('demo', 'dev', 'deploy'))).toBe(false);
    // Nothing granted for other actions.
    expect(p.can('publish', 'chat:lobby')).toBe(false);
    expect(p.can('endpoint', 'echo')).toBe(false);
    expect(p.can('metrics')).toBe(false);
  });

  it('substitutes {user} with the principal, literally', () => {
    const alice = new Permissions({ subscribe: ['user:{user}'] }, 'alice');
    expect(alice.can('subscribe', 'user:alice')).toBe(true);
    expect(alice.can('subscribe', 'user:bob')).toBe(false);
    // A user id with pattern characters does not widen the pattern.
    const star = new Permissions({ subscribe: ['user:{user}'] }, '*');
    expect(star.can('subscribe', 'user:bob')).toBe(false);
    expect(star.can('subscribe', 'user:*')).toBe(true);
    // Without a user id, {user} patterns match nothing.
    expect(new Permissions({ subscribe: ['user:{user}'] }, undefined).can('subscribe', 'user:')).toBe(false);
  });

  it('treats regex syntax in patterns as text', () => {
    const p = new Permissions({ publish: ['a(b|c)+[x]$^\\d'] }, undefined);
    expect(p.can('publish', 'a(b|c)+[x]$^\\d')).toBe(true);
    expect(p.can('publish', 'ab')).toBe(false);
  });

  it('asserts with a forbidden WirehubError naming the action', () => {
    const p = new Permissions({ endpoints: ['echo'] }, 'alice');
    expect(() => p.assert('endpoint', 'echo')).not.toThrow();
    try {
      p.assert('endpoint', 'chat');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WirehubError);
      expect((err as WirehubError).code).toBe('forbidden');
      expect((err as WirehubError).status).toBe(403);
      expect((err as WirehubError).message).toBe('not allowed to endpoint "chat"');
    }
    expect(new Permissions(ALL_GRANTS, undefined).can('metrics')).toBe(true);
  });

  it('merges grant sets as a union', () => {
    expect(mergeGrants({ subscribe: ['a'] }, { subscribe: ['a', 'b'], metrics: true }, {})).toEqual({
      subscribe: ['a', 'b'],
      metrics: true,
    });
  });
});

describe('Permissions: runs and pattern pieces', () => {
  it('grants allRuns only when set, and merges it like metrics', () => {
    expect(new Permissions({ tasks: ['*'] }, 'alice').can('allRuns')).toBe(false);
    expect(new Permissions({ allRuns: true }, 'alice').can('allRuns')).toBe(true);
    expect(new Permissions(ALL_GRANTS, undefined).can('allRuns')).toBe(true);
    expect(mergeGrants({ tasks: ['a/b/*'] }, { allRuns: true })).toEqual({ tasks: ['a/b/*'], allRuns: true });
    expect(() => new Permissions({}, 'alice').assert('allRuns')).toThrow(
      'not allowed to see or cancel runs other users started',
    );
  });

  it('gives the patterns as literal pieces between wildcards, {user} filled in literally', () => {
    const p = new Permissions({ tasks: ['demo/*', 'team/{user}/*', 'exact/one/task', '*'] }, 'a*b');
    expect(p.patterns('task')).toEqual([['demo/', ''], ['team/a*b/', ''], ['exact/one/task'], ['', '']]);
    // {user} patterns are left out for a principal without a user id.
    expect(new Permissions({ tasks: ['team/{user}/*', 'x/*'] }, undefined).patterns('task')).toEqual([
      ['x/', ''],
    ]);
    expect(new Permissions({}, 'alice').patterns('subscribe')).toEqual([]);
  });
});

describe('PermissionPolicy', () => {
  const policy = new PermissionPolicy({
    authenticated: { endpoints: ['echo'] },
    roles: { reader: { subscribe: ['*'] }, writer: { publish: ['chat:*'] } },
  });

  it('gives a token without grants or roles the authenticated grants', () => {
    expect(policy.grantsFor({ sub: 'alice' })).toEqual({ endpoints: ['echo'] });
    // By default everything but the admin API, which is given by name.
    expect(new PermissionPolicy().grantsFor({ sub: 'alice' })).toEqual({ ...ALL_GRANTS, admin: false });
    expect(new Permissions(new PermissionPolicy().grantsFor({ sub: 'alice' }), 'alice').can('admin')).toBe(
      false,
    );
    expect(new PermissionPolicy().grantsFor({ sub: 'root', wirehub: { admin: true } })).toEqual({
      admin: true,
    });
  });

  it('gives a token exactly its own grants plus its roles', () => {
    expect(policy.grantsFor({ roles: ['reader', 'writer', 'unknown'] })).toEqual({
      subscribe: ['*'],
      publish: ['chat:*'],
    });
    expect(policy.grantsFor({ roles: 'reader writer' })).toEqual({ subscribe: ['*'], publish: ['chat:*'] });
    expect(policy.grantsFor({ wirehub: { endpoints: ['rt'] }, roles: ['reader'] })).toEqual({
      endpoints: ['rt'],
      subscribe: ['*'],
    });
    // A token with an empty grants claim is narrowed to nothing, not widened to the default.
    expect(policy.grantsFor({ wirehub: {} })).toEqual({});
  });

  it('refuses malformed claims as unauthorized', () => {
    for (const claims of [
      { wirehub: { endpoints: 'echo' } },
      { wirehub: { superuser: true } },
      { wirehub: [] },
      { roles: [1, 2] },
      { roles: { a: 1 } },
    ]) {
      expect(() => policy.grantsFor(claims), JSON.stringify(claims)).toThrow(
        expect.objectContaining({ code: 'unauthorized' }),
      );
    }
  });

  it('cannot be escalated through __proto__ or constructor keys', () => {
    const claims = JSON.parse('{"sub":"eve","wirehub":{"__proto__":{"endpoints":["*"]}}}');
    expect(() => policy.grantsFor(claims)).toThrow(expect.objectContaining({ code: 'unauthorized' }));
    const roles = JSON.parse('{"roles":["__proto__","constructor","toString","hasOwnProperty"]}');
    expect(policy.grantsFor(roles)).toEqual({});
    expect(({} as Record<string, unknown>).endpoints).toBeUndefined();
  });

  it('validates its own config', () => {
    expect(() => new PermissionPolicy({ roles: { 'bad role': {} } })).toThrow();
    expect(() => new PermissionPolicy({ anonymous: { subscribe: [''] } })).toThrow();
    expect(
      new PermissionPolicy({ grantsClaim: 'https://example.com/wh' }).grantsFor({
        'https://example.com/wh': { tasks: ['x'] },
      }),
    ).toEqual({
      tasks: ['x'],
    });
  });
});
