import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/engine/sqlite/driver.js';
import { SqliteEngine, type SqliteEngineOptions } from '../../src/engine/sqlite/sqlite-engine.js';
import type { HistoryPolicy, Publication } from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/index.js';
import { tempDir } from '../support/server.js';
import { breakWrites, crashImage } from '../support/sqlite-faults.js';

const KEEP: HistoryPolicy = { size: 10_000, ttlMs: 60 * 60 * 1000 };
const engines: SqliteEngine[] = [];

async function open(
  file: string,
  options: Partial<SqliteEngineOptions> = {},
  handler = (_: Publication) => {},
) {
  const engine = new SqliteEngine({ file, bootId: () => 'boot-1', ...options });
  await engine.start(handler);
  engines.push(engine);
  return engine;
}

/** The rows of a channel as another connection (another process) sees the file now. */
function stored(file: string, channel: string): { offset: number; data: unknown }[] {
  const db = openSqlite(file, { readonly: true });
  try {
    return db
      .prepare<[string], { offset: number; data: string }>(
        'SELECT offset, data FROM publications WHERE channel = ? ORDER BY offset',
      )
      .all(channel)
      .map((r) => ({ offset: r.offset, data: JSON.parse(r.data) }));
  } finally {
    db.close();
  }
}

function storedPosition(file: string, channel: string): { epoch: string; offset: number } | undefined {
  const db = openSqlite(file, { readonly: true });
  try {
    return db
      .prepare<[string], { epoch: string; offset: number }>(
        'SELECT epoch, offset FROM streams WHERE channel = ?',
      )
      .get(channel);
  } finally {
    db.close();
  }
}

/** Data nested deeper than JSON.stringify's stack allows. */
function tooDeep(): unknown {
  let data: unknown = [];
  for (let i = 0; i < 200_000; i += 1) data = [data];
  return data;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

describe('SqliteEngine: an ack means committed', () => {
  it('resolves publish only once the publication is in the file', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file);
    const pubs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => engine.publish({ channel: 'chat:a', data: { i }, history: KEEP })),
    );
    // Nothing awaited besides the acks: each acked publication is already in the file.
    expect(stored(file, 'chat:a')).toEqual(pubs.map((p) => ({ offset: p.offset, data: p.data })));
    const one = await engine.publish({ channel: 'chat:a', data: 'one more', history: KEEP });
    expect(stored(file, 'chat:a').at(-1)).toEqual({ offset: one.offset, data: 'one more' });
  });

  it('delivers to subscribers only what is committed, in offset order', async () => {
    const file = join(tempDir(), 'channels.db');
    const seen: { offset: number | undefined; inFile: boolean }[] = [];
    const engine = await open(file, {}, (pub) => {
      seen.push({
        offset: pub.offset,
        inFile: stored(file, pub.channel).some((r) => r.offset === pub.offset),
      });
    });
    await engine.subscribe('chat:a');
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => engine.publish({ channel: 'chat:a', data: i, history: KEEP })),
    );
    expect(seen.map((s) => s.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seen.every((s) => s.inFile)).toBe(true);
  });

  it('commits what is queued before a read reveals a position', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file);
    const acks = Array.from({ length: 5 }, (_, i) =>
      engine.publish({ channel: 'chat:a', data: i, history: KEEP }),
    );
    // Read in the same turn as the publishes, before their commit was due.
    const position = await engine.position('chat:a');
    expect(position.offset).toBe(5);
    expect(storedPosition(file, 'chat:a')).toEqual(position);
    const more = Array.from({ length: 3 }, (_, i) =>
      engine.publish({ channel: 'chat:a', data: i, history: KEEP }),
    );
    const history = await engine.history('chat:a', {}, KEEP);
    expect(history.offset).toBe(8);
    expect(stored(file, 'chat:a').map((r) => r.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // A brand-new stream's epoch is in the file before anyone sees it.
    const fresh = await engine.position('chat:fresh');
    expect(storedPosition(file, 'chat:fresh')).toEqual(fresh);
    await Promise.all([...acks, ...more]);
  });

  it('fails a publication whose data cannot be stored alone, with json_too_deep, and keeps offsets gap-free', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file);
    const results = await Promise.allSettled([
      engine.publish({ channel: 'chat:a', data: 'before', history: KEEP }),
      engine.publish({ channel: 'chat:a', data: tooDeep(), history: KEEP }),
      engine.publish({ channel: 'chat:a', data: 'after', history: KEEP }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const failure = (results[1] as PromiseRejectedResult).reason;
    expect(failure).toBeInstanceOf(WirehubError);
    expect(failure).toMatchObject({ code: 'json_too_deep' });
    expect(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.offset] : []))).toEqual([1, 2]);
    expect(stored(file, 'chat:a')).toEqual([
      { offset: 1, data: 'before' },
      { offset: 2, data: 'after' },
    ]);
    expect(engine.health?.problem).toBeUndefined();
  });
});

describe('SqliteEngine: a commit that fails', () => {
  it('rejects its publications with store_unavailable, keeps no offset that is not stored, and is not ready until a write succeeds', async () => {
    const file = join(tempDir(), 'channels.db');
    const delivered: unknown[] = [];
    const engine = await open(file, { probeEveryMs: 0 }, (pub) => delivered.push(pub.data));
    await engine.subscribe('chat:a');
    const first = await engine.publish({ channel: 'chat:a', data: 'stored', history: KEEP });
    const repair = breakWrites(file);
    const failed = await Promise.allSettled(
      ['lost 1', 'lost 2'].map((data) => engine.publish({ channel: 'chat:a', data, history: KEEP })),
    );
    for (const result of failed) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'store_unavailable' });
    }
    expect(engine.health?.problem).toMatch(/channels store \(channels\.db\) failed/);
    expect(engine.health?.errors).toBeGreaterThan(0);
    // The failed offsets were never handed out: the stream is where the file is.
    expect(await engine.position('chat:a')).toEqual({ epoch: first.epoch, offset: 1 });
    expect(delivered).toEqual(['stored']);

    repair();
    const next = await engine.publish({ channel: 'chat:a', data: 'after repair', history: KEEP });
    expect(next).toMatchObject({ epoch: first.epoch, offset: 2 });
    expect(engine.health?.problem).toBeUndefined();
    expect(delivered).toEqual(['stored', 'after repair']);
    expect(stored(file, 'chat:a').map((r) => r.data)).toEqual(['stored', 'after repair']);
  });

  it('comes back ready by itself once writes work again (probe)', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file, { probeEveryMs: 20 });
    const repair = breakWrites(file);
    await expect(engine.publish({ channel: 'chat:a', data: 1, history: KEEP })).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    expect(engine.health?.problem).toBeDefined();
    repair();
    await expect.poll(() => engine.health?.problem, { interval: 20 }).toBeUndefined();
  });
});

describe('SqliteEngine: epochs after an unclean stop', () => {
  async function crashedWith(options: Partial<SqliteEngineOptions>) {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file, options);
    const pubs: Publication[] = [];
    for (let i = 1; i <= 3; i += 1)
      pubs.push(await engine.publish({ channel: 'chat:a', data: i, history: KEEP }));
    const position = await engine.position('chat:a');
    return { image: crashImage(file), position, pubs };
  }

  it('keeps epochs after a crash of the process in the same boot (nothing committed is lost)', async () => {
    const { image, position } = await crashedWith({ bootId: () => 'boot-1' });
    const after = await open(image, { bootId: () => 'boot-1' });
    expect(await after.position('chat:a')).toEqual(position);
    const replay = await after.history('chat:a', { since: { epoch: position.epoch, offset: 1 } }, KEEP);
    expect(replay).toMatchObject({ complete: true });
    expect(replay.publications.map((p) => p.data)).toEqual([2, 3]);
  });

  it('starts a new epoch for every stream after an unclean stop across a reboot (synchronous=normal)', async () => {
    const { image, position } = await crashedWith({ bootId: () => 'boot-1' });
    const after = await open(image, { bootId: () => 'boot-2' });
    const now = await after.position('chat:a');
    expect(now.epoch).not.toBe(position.epoch);
    // Offsets keep counting and the history stays readable, under the new epoch.
    expect(now.offset).toBe(3);
    expect((await after.history('chat:a', {}, KEEP)).publications.map((p) => [p.epoch, p.data])).toEqual([
      [now.epoch, 1],
      [now.epoch, 2],
      [now.epoch, 3],
    ]);
    // A client holding the old position is told it cannot recover.
    expect((await after.history('chat:a', { since: position }, KEEP)).complete).toBe(false);
    expect(await after.publish({ channel: 'chat:a', data: 4, history: KEEP })).toMatchObject({
      epoch: now.epoch,
      offset: 4,
    });
  });

  it('assumes the worst when the boot id is unknown', async () => {
    const { image, position } = await crashedWith({ bootId: () => undefined });
    const after = await open(image, { bootId: () => undefined });
    const now = await after.position('chat:a');
    expect(now.epoch).not.toBe(position.epoch);
    expect(now.offset).toBe(position.offset);
  });

  it('keeps epochs across a reboot when every commit was synced (sync: full)', async () => {
    const { image, position } = await crashedWith({ bootId: () => 'boot-1', sync: 'full' });
    const after = await open(image, { bootId: () => 'boot-2' });
    expect(await after.position('chat:a')).toEqual(position);
  });

  it('keeps epochs after a clean stop, whatever the boot', async () => {
    const file = join(tempDir(), 'channels.db');
    const engine = await open(file, { bootId: () => 'boot-1' });
    const pub = await engine.publish({ channel: 'chat:a', data: 1, history: KEEP });
    await engine.close();
    const after = await open(file, { bootId: () => 'boot-2' });
    expect(await after.position('chat:a')).toEqual({ epoch: pub.epoch, offset: 1 });
  });
});
