import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KEEP_WITHOUT_POLICY_MS } from '../../src/engine/retention.js';
import { openSqlite } from '../../src/engine/sqlite/driver.js';
import { SqliteEngine } from '../../src/engine/sqlite/sqlite-engine.js';
import { tempDir } from '../support/server.js';

const engines: SqliteEngine[] = [];

const UNLOAD_MS = 10 * 60 * 1000;

async function open(file: string): Promise<SqliteEngine> {
  const engine = new SqliteEngine({ file });
  await engine.start(() => {});
  engines.push(engine);
  return engine;
}

function rows(file: string, channel: string): number[] {
  const db = openSqlite(file, { readonly: true });
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

/** The channels with a row in the streams table, sorted. */
function streamRows(file: string): string[] {
  const db = openSqlite(file, { readonly: true });
  try {
    return db
      .prepare<[], { channel: string }>('SELECT channel FROM streams ORDER BY channel')
      .all()
      .map((r) => r.channel);
  } finally {
    db.close();
  }
}

afterEach(async () => {
  vi.useRealTimers();
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

  it('unloads an idle stream from memory and reloads it on next use, history intact', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file);
    const policy = { size: 100, ttlMs: 60 * 60 * 1000 };
    for (let i = 1; i <= 3; i += 1) await engine.publish({ channel: 'chat:a', data: i, history: policy });
    const { epoch } = await engine.position('chat:a');
    await engine.subscribe('chat:kept');
    await engine.position('chat:kept');
    engine.sweep(Date.now() + UNLOAD_MS - 1_000);
    expect(engine.sizes().streams).toBe(2);
    engine.sweep(Date.now() + UNLOAD_MS + 1);
    // A subscribed channel stays; the idle one left memory but not the file.
    expect(engine.sizes().streams).toBe(1);
    expect(rows(file, 'chat:a')).toEqual([1, 2, 3]);
    const missed = await engine.history('chat:a', { since: { epoch, offset: 1 } }, policy);
    expect(missed).toMatchObject({ epoch, offset: 3, complete: true });
    expect(missed.publications.map((p) => p.data)).toEqual([2, 3]);
    expect(engine.sizes().streams).toBe(2);
    expect(await engine.publish({ channel: 'chat:a', data: 4, history: policy })).toMatchObject({
      epoch,
      offset: 4,
    });
    engine.sweep(Date.now() + UNLOAD_MS + 1);
    await engine.close();
    const again = await open(file);
    expect(await again.position('chat:a')).toEqual({ epoch, offset: 4 });
    expect((await again.history('chat:a', {}, policy)).publications.map((p) => p.data)).toEqual([1, 2, 3, 4]);
  });

  it('deletes a stream unused for 2 × ttl from memory and disk, loaded or not', async () => {
    const file = join(tempDir(), 'channels.db');
    const short = { size: 100, ttlMs: 1_000 };
    const long = { size: 100, ttlMs: 60 * 60 * 1000 };
    const first = await open(file);
    await first.publish({ channel: 'chat:short', data: 1, history: short });
    await first.publish({ channel: 'chat:long', data: 1, history: long });
    await first.publish({ channel: 'chat:loaded', data: 1, history: short });
    await first.close();
    // After a restart nothing is loaded: the sweep finds stale streams in the file.
    const engine = await open(file);
    const { epoch } = await engine.position('chat:loaded');
    expect(engine.sizes().streams).toBe(1);
    engine.sweep(Date.now() + 2 * short.ttlMs + 1);
    expect(engine.sizes().streams).toBe(0);
    expect(streamRows(file)).toEqual(['chat:long']);
    expect(rows(file, 'chat:short')).toEqual([]);
    expect(rows(file, 'chat:loaded')).toEqual([]);
    expect(rows(file, 'chat:long')).toEqual([1]);
    const fresh = await engine.position('chat:loaded');
    expect(fresh.epoch).not.toBe(epoch);
    expect(fresh.offset).toBe(0);
  });

  it('deletes expired rows of an idle loaded stream at the sweep, not only on read', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file);
    const policy = { size: 100, ttlMs: 60_000 };
    for (let i = 0; i < 3; i += 1) await engine.publish({ channel: 'chat:a', data: i, history: policy });
    engine.sweep(Date.now() + policy.ttlMs - 1_000);
    expect(rows(file, 'chat:a')).toEqual([1, 2, 3]);
    engine.sweep(Date.now() + policy.ttlMs + 1);
    expect(rows(file, 'chat:a')).toEqual([]);
    expect(streamRows(file)).toEqual(['chat:a']);
  });

  it('keeps the last read of a loaded stream across a restart', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const t0 = Date.now();
    const file = join(tempDir(), 'channels.db');
    const policy = { size: 100, ttlMs: 60_000 };
    const first = await open(file);
    await first.publish({ channel: 'chat:a', data: 1, history: policy });
    // Committed now: what the file holds of the read below is up to close().
    await new Promise<void>((resolve) => setImmediate(resolve));
    vi.setSystemTime(t0 + 100_000);
    await first.history('chat:a', {}, policy);
    await first.close();
    const second = await open(file);
    second.sweep(t0 + 200_000);
    expect(streamRows(file)).toEqual(['chat:a']);
    second.sweep(t0 + 100_000 + 2 * policy.ttlMs + 1);
    expect(streamRows(file)).toEqual([]);
  });

  it('opens a file written before the retention columns, and forgets only its empty streams', async () => {
    const file = join(tempDir(), 'channels.db');
    const db = openSqlite(file);
    db.exec(`
      CREATE TABLE streams (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, offset INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE publications (channel TEXT NOT NULL, offset INTEGER NOT NULL, id TEXT NOT NULL,
        data TEXT NOT NULL, from_client TEXT, from_user TEXT, at INTEGER NOT NULL,
        PRIMARY KEY (channel, offset)) WITHOUT ROWID;
      INSERT INTO streams VALUES ('chat:empty', 'e-empty', 0), ('chat:old', 'e-old', 2);
      INSERT INTO publications VALUES ('chat:old', 1, 'p1', '"one"', NULL, NULL, 1),
        ('chat:old', 2, 'p2', '"two"', 'c-1', NULL, 2);
    `);
    db.close();
    const engine = await open(file);
    engine.sweep(Date.now() + KEEP_WITHOUT_POLICY_MS + 1);
    expect(streamRows(file)).toEqual(['chat:old']);
    // A file from before the clean-stop record: how its last process stopped is unknown, so
    // its streams start a new epoch (offsets and history stay).
    const { epoch } = await engine.position('chat:old');
    expect(epoch).not.toBe('e-old');
    expect(await engine.position('chat:old')).toEqual({ epoch, offset: 2 });
    const kept = await engine.history('chat:old', {}, { size: 10, ttlMs: Number.MAX_SAFE_INTEGER });
    expect(kept.publications.map((p) => p.data)).toEqual(['one', 'two']);
    // Used again with a policy, it is forgotten like any other stream.
    const policy = { size: 10, ttlMs: 1_000 };
    await engine.publish({ channel: 'chat:old', data: 'three', history: policy });
    await engine.close();
    const again = await open(file);
    again.sweep(Date.now() + 2 * policy.ttlMs + 1);
    expect(streamRows(file)).toEqual([]);
  });

  it('pages past loaded streams whose file row looks stale to the stale ones behind them', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const t0 = Date.now();
    const file = join(tempDir(), 'channels.db');
    const policy = { size: 10, ttlMs: 1_000 };
    const busy = Array.from({ length: 600 }, (_, i) => `busy:${i}`);
    const first = await open(file);
    for (const channel of busy) await first.publish({ channel, data: 1, history: policy });
    vi.setSystemTime(t0 + 100);
    await first.publish({ channel: 'idle', data: 1, history: policy });
    await first.close();
    // Read again after their last publication: in memory they are in use, in the file not yet.
    vi.setSystemTime(t0 + 1_500);
    const second = await open(file);
    for (const channel of busy) await second.history(channel, {}, policy);
    second.sweep(t0 + 2_500);
    expect(streamRows(file)).toHaveLength(busy.length);
    expect(streamRows(file)).not.toContain('idle');
    expect(second.sizes().streams).toBe(busy.length);
  });
});
