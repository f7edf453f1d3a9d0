import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/engine/sqlite/sqlite-engine.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { type CliServer, runCli, startCliServer } from '../support/cli.js';
import { eventually, get } from '../support/cluster.js';
import { RtClient } from '../support/rt-client.js';
import { tempDir } from '../support/server.js';
import { breakWrites, corruptHeader, corruptMiddlePage } from '../support/sqlite-faults.js';

/** A channels.db with a few hundred KB of history, closed cleanly (one file, no WAL). */
async function channelsDb(dir: string): Promise<string> {
  const file = join(dir, 'channels.db');
  const engine = new SqliteEngine({ file });
  await engine.start(() => {});
  const policy = { size: 100_000, ttlMs: 24 * 60 * 60 * 1000 };
  const text = 'a chat message of some length, '.repeat(8);
  await Promise.all(
    Array.from({ length: 2000 }, (_, i) =>
      engine.publish({ channel: `chat:room-${i % 20}`, data: { i, text }, history: policy }),
    ),
  );
  await engine.close();
  return file;
}

/** A runs.db with a few hundred runs, closed cleanly. */
async function runsDb(dir: string): Promise<string> {
  const file = join(dir, 'runs.db');
  const store = new SqliteRunStore(file, { pruneEveryMs: 0 });
  await store.open();
  for (let i = 0; i < 400; i += 1) {
    await store.createRun(
      {
        run_id: `r-${i}`,
        project: 'demo',
        domain: 'development',
        task: 'countdown',
        version: 'v1',
        inputs: { n: i, note: 'inputs of some length '.repeat(6) },
        attempt: 1,
        max_attempts: 1,
      },
      'queued',
    );
  }
  await store.close();
  return file;
}

describe('a damaged store file stops the start with an error that names it', () => {
  it('a page-corrupted channels.db', async () => {
    const dir = tempDir();
    const file = await channelsDb(dir);
    corruptMiddlePage(file);
    const { code, stderr } = await runCli(['serve', '--port', '0', '--data-dir', dir]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file} is damaged`);
    expect(stderr).toMatch(/restore channels\.db from a backup, or move it .* aside/);
  });

  it('a page-corrupted runs.db', async () => {
    const dir = tempDir();
    const file = await runsDb(dir);
    corruptMiddlePage(file);
    const { code, stderr } = await runCli(['serve', '--port', '0', '--data-dir', dir]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file} is damaged`);
    expect(stderr).toContain('run records');
  });

  it('a channels.db with a corrupted header', async () => {
    const dir = tempDir();
    const file = await channelsDb(dir);
    corruptHeader(file);
    const { code, stderr } = await runCli(['serve', '--port', '0', '--data-dir', dir]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file} is damaged (not a SQLite database, or its header is damaged`);
  });
});

describe('a store write failure at run time', () => {
  let server: CliServer | undefined;
  afterEach(() => {
    server?.child.kill('SIGKILL');
  });

  async function publish(
    url: string,
    data: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'chat:store', data }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('fails the publications with store_unavailable, keeps the process, flips /readyz and counts it, until writes work again', async () => {
    const dir = tempDir();
    server = await startCliServer(['--data-dir', dir]);
    const first = await publish(server.url, 'stored');
    expect(first).toMatchObject({ status: 200, body: { offset: 1 } });
    const rt = await RtClient.connect(`${server.wsUrl}/rt`);

    const repair = breakWrites(join(dir, 'channels.db'));
    const refused = await publish(server.url, 'not stored');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'store_unavailable' } });
    const rtRefused = await rt.request('publish', { channel: 'chat:store', data: 'not stored either' });
    expect(rtRefused).toMatchObject({ op: 'error', code: 'store_unavailable' });

    // Alive, not ready, and it says why; the failure is counted.
    expect((await get(server, '/healthz')).status).toBe(200);
    const ready = await get(server, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      error: { code: 'not_ready', message: expect.stringContaining('channels.db') },
    });
    const metrics = String((await get(server, '/metrics')).body);
    expect(metrics).toMatch(/^wirehub_store_errors_total\{store="channels"\} [1-9]/m);
    expect(metrics).toMatch(/^wirehub_store_up\{store="channels"\} 0$/m);
    expect(metrics).toMatch(/^wirehub_store_up\{store="runs"\} 1$/m);

    repair();
    await eventually(
      'ready again once writes work',
      async () => (await get(server as CliServer, '/readyz')).status === 200,
    );
    // No offset was handed out for what was refused: the next one follows the stored one.
    expect(await publish(server.url, 'after repair')).toMatchObject({ status: 200, body: { offset: 2 } });
    const history = (await get(server, '/api/channels/chat:store/history')).body as {
      publications: { offset: number; data: unknown }[];
    };
    expect(history.publications.map((p) => [p.offset, p.data])).toEqual([
      [1, 'stored'],
      [2, 'after repair'],
    ]);
    await rt.close();
  });
});
