import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/server/security/unauthenticated-access.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ namespaces: [{ pattern: 'tiny:*', history: { size: 2, ttlMs: 60_000 } }] });
});

afterAll(async () => {
  await srv.close();
});

async function publish(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${srv.url}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function get(path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${srv.url}${path}`);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('POST /api/publish', () => {
  it('publishes to any namespace, server-only ones included', async () => {
    const r = await publish({ channel: 'run:r-1', data: { status: 'RUNNING' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ channel: 'run:r-1', offset: 1, id: expect.any(String) });
    const b = await publish({ channel: 'broadcast', data: 'x' });
    expect(b.json).not.toHaveProperty('offset');
  });

  it('refuses bad bodies with a catalog error', async () => {
    expect(await publish({ channel: 'chat:a' })).toMatchObject({
      status: 400,
      json: { error: { code: 'bad_request' } },
    });
    expect(await publish({ channel: 'chat:a b', data: 1 })).toMatchObject({
      status: 400,
      json: { error: { code: 'bad_channel' } },
    });
    expect(await publish({ channel: 'nowhere:a', data: 1 })).toMatchObject({
      status: 400,
      json: { error: { code: 'unknown_namespace' } },
    });
    expect(await publish({ channel: 'chat:a', data: 1, extra: 1 })).toMatchObject({ status: 400 });
    const notJson = await fetch(`${srv.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });
});

describe('GET /api/channels/:channel/history', () => {
  it('pages history and says when since is no longer covered', async () => {
    for (let i = 1; i <= 3; i += 1) await publish({ channel: 'chat:h', data: i });
    const all = await get('/api/channels/chat:h/history');
    expect(all.status).toBe(200);
    expect(all.json).toMatchObject({ channel: 'chat:h', offset: 3, complete: true });
    const epoch = all.json.epoch as string;
    expect((all.json.publications as { data: number }[]).map((p) => p.data)).toEqual([1, 2, 3]);
    const page = await get(`/api/channels/chat:h/history?since=1&epoch=${epoch}&limit=1`);
    expect((page.json.publications as { offset: number }[]).map((p) => p.offset)).toEqual([2]);
    for (let i = 1; i <= 3; i += 1) await publish({ channel: 'tiny:t', data: i });
    const tinyEpoch = (await get('/api/channels/tiny:t/history')).json.epoch as string;
    const trimmed = await get(`/api/channels/tiny:t/history?since=0&epoch=${tinyEpoch}`);
    expect(trimmed.json).toMatchObject({ complete: false, publications: [], offset: 3 });
  });

  it('refuses bad queries and channels without history', async () => {
    expect((await get('/api/channels/chat:h/history?since=1')).json).toMatchObject({
      error: { code: 'bad_request' },
    });
    expect((await get('/api/channels/chat:h/history?limit=0')).status).toBe(400);
    expect((await get('/api/channels/chat:h/history?limit=abc')).status).toBe(400);
    expect((await get('/api/channels/bad%20name/history')).json).toMatchObject({
      error: { code: 'bad_channel' },
    });
    expect(await get('/api/channels/broadcast/history')).toMatchObject({
      status: 400,
      json: { error: { code: 'not_enabled' } },
    });
  });
});

describe('loopback only', () => {
  it('answers 403 to a client that is not on this machine', async () => {
    for (const [method, url] of [
      ['POST', '/api/publish'],
      ['GET', '/api/channels/chat:a/history'],
      ['GET', '/api/channels/chat:a/presence'],
    ] as const) {
      const res = await srv.server.http.inject({
        method,
        url,
        remoteAddress: '192.0.2.10',
        ...(method === 'POST' ? { payload: { channel: 'chat:a', data: 1 } } : {}),
      });
      expect(res.statusCode, url).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden' } });
    }
    const ok = await srv.server.http.inject({
      method: 'GET',
      url: '/api/channels/chat:a/presence',
      remoteAddress: '::1',
    });
    expect(ok.statusCode).toBe(200);
  });

  it('recognises loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.0.2.1', '', undefined, '::2'])
      expect(isLoopback(a), String(a)).toBe(false);
  });
});
