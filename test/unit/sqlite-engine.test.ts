import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/engine/sqlite/sqlite-engine.js';
import { tempDir } from '../support/server.js';

const engines: SqliteEngine[] = [];

async function open(file: string): Promise<SqliteEngine> {
  const engine = new SqliteEngine({ file });
  await engine.start(() => {});
  engines.push(engine);
  return engine;
}

function rows(file: string, channel: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare<[string], { offset: number }>(
        'SELECT offset FROM publications WHERE channel = ? ORDER BY offset',
      )
      .all(channel)
      .map((r) => r.offset);
  } finally {
    db.close();
  }
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

describe('SqliteEngine', () => {
  it('creates the file and its folder, and deletes trimmed rows from it', async () => {
    const file = join(tempDir(), 'nested', 'channels.db');
    const engine = await open(file);
    expect(existsSync(file)).toBe(true);
    const policy = { size: 3, ttlMs: 60_000 };
    for (let i = 0; i < 10; i += 1) await engine.publish({ channel: 'chat:a', data: i, history: policy });
    await engine.close();
    expect(rows(file, 'chat:a')).toEqual([8, 9, 10]);
  });

  it('commits a burst of publications in the next turn of the event loop', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file);
    const policy = { size: 100, ttlMs: 60_000 };
    for (let i = 0; i < 5; i += 1) await engine.publish({ channel: 'chat:b', data: i, history: policy });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(rows(file, 'chat:b')).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses to work before start', async () => {
    const engine = new SqliteEngine({ file: join(tempDir(), 'x.db') });
    await expect(engine.position('chat:a')).rejects.toThrow(/not started/);
  });
});
