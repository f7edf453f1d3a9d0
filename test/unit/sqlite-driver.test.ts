import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBun, openSqlite, sqliteDriverName, sqliteErrorCode } from '../../src/engine/sqlite/driver.js';
import { tempDir } from '../support/server.js';

// Runs on Node (better-sqlite3) and, from scripts/test-bun.sh, on Bun (bun:sqlite): the stores
// rely on every behaviour checked here being the same on both.
describe(`SQLite driver seam (${sqliteDriverName()})`, () => {
  it('uses bun:sqlite under Bun and better-sqlite3 on Node', () => {
    // test-bun.sh says which runtime it meant, so a run that silently fell back to Node fails.
    const expected = process.env.WIREHUB_TEST_RUNTIME;
    if (expected) expect(isBun() ? 'bun' : 'node').toBe(expected);
    expect(sqliteDriverName()).toBe(isBun() ? 'bun:sqlite' : 'better-sqlite3');
  });

  it('binds positional and @named parameters, and gives undefined for no row', () => {
    const db = openSqlite(':memory:');
    db.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT, n INTEGER); CREATE INDEX kv_n ON kv (n)');
    expect(
      db.prepare<[string, string, number]>('INSERT INTO kv VALUES (?, ?, ?)').run('a', '1', 1),
    ).toMatchObject({
      changes: 1,
    });
    const named = db.prepare<[Record<string, unknown>]>('INSERT INTO kv VALUES (@k, @v, @n)');
    named.run({ k: 'b', v: null, n: 2 });
    const get = db.prepare<[string], { v: string | null; n: number }>('SELECT v, n FROM kv WHERE k = ?');
    expect(get.get('a')).toEqual({ v: '1', n: 1 });
    expect(get.get('b')).toEqual({ v: null, n: 2 });
    expect(get.get('missing')).toBeUndefined();
    expect(db.prepare<[], { k: string }>('SELECT k FROM kv ORDER BY k').all()).toEqual([
      { k: 'a' },
      { k: 'b' },
    ]);
    expect(() => named.run({ k: 'c', v: 'x' })).toThrow(); // a missing named parameter
    db.close();
  });

  it('answers pragmas as rows or, simple, as one value', () => {
    const db = openSqlite(':memory:');
    db.pragma('user_version = 7');
    expect(db.pragma('user_version', { simple: true })).toBe(7);
    expect(db.pragma('user_version')).toEqual([{ user_version: 7 }]);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('quick_check')).toEqual([{ quick_check: 'ok' }]);
    db.close();
  });

  it('commits a transaction, rolls it back when it throws, and reports SQLite result codes', () => {
    const file = join(tempDir(), 'seam.db');
    const db = openSqlite(file);
    expect(db.pragma('journal_mode = WAL', { simple: true })).toBe('wal');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY)');
    const insert = db.prepare<[string]>('INSERT INTO t VALUES (?)');
    const many = db.transaction((ids: string[]) => {
      for (const id of ids) insert.run(id);
      return ids.length;
    });
    expect(many(['a', 'b'])).toBe(2);
    let caught: unknown;
    try {
      many.immediate(['c', 'a']); // 'a' again: the whole transaction goes, 'c' too
    } catch (err) {
      caught = err;
    }
    expect(sqliteErrorCode(caught)).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(sqliteErrorCode(new Error('not SQLite'))).toBeUndefined();
    expect(db.prepare<[], { id: string }>('SELECT id FROM t ORDER BY id').all()).toEqual([
      { id: 'a' },
      { id: 'b' },
    ]);

    const reader = openSqlite(file, { readonly: true });
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
    let refused: unknown;
    try {
      reader.exec("INSERT INTO t VALUES ('z')");
    } catch (err) {
      refused = err;
    }
    expect(sqliteErrorCode(refused)).toBe('SQLITE_READONLY');
    reader.close();
    db.close();
  });
});
