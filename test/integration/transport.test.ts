import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TestClient } from '../support/client.js';
import { type RunningServer, startServer } from '../support/server.js';

// Runs on Node and, from scripts/test-bun.sh, on Bun, where the connections must be on Bun's
// native server unless WIREHUB_TRANSPORT=node asks for the Node-compatible one: a run that
// silently fell back to the compat layer fails here, not in a benchmark.
const expected =
  typeof process.versions.bun === 'string' && process.env.WIREHUB_TRANSPORT !== 'node' ? 'bun' : 'node';

describe(`the transport (${expected})`, () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer({ maxQueuedBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await srv.close();
  });

  it('is the one this runtime should use', () => {
    if (process.env.WIREHUB_TEST_RUNTIME === 'bun') expect(typeof process.versions.bun).toBe('string');
    expect(srv.server.transport).toBe(expected);
  });

  it('selects the subprotocol the endpoint speaks, and sends text frames as text', async () => {
    const rt = new WebSocket(`${srv.wsUrl}/rt`, ['nope', 'wirehub.v1']);
    await once(rt, 'open');
    expect(rt.protocol).toBe('wirehub.v1');
    rt.terminate();
    const echo = await TestClient.connect(`${srv.wsUrl}/echo`);
    await echo.send('héllo ✓');
    expect(await echo.next()).toBe('Echo: héllo ✓');
    echo.ws.terminate();
  });

  it('refuses an upgrade in the catalog shape, and serves HTTP with the same answers', async () => {
    const refused = await TestClient.refused(`${srv.wsUrl}/no-such-endpoint`);
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body)).toEqual({ error: expect.objectContaining({ code: 'not_found' }) });
    const health = await fetch(`${srv.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    const missing = await fetch(`${srv.url}/api/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
