import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { API_KEY, Bystander } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer | undefined;

afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function status(
  url: string,
  origin: string | undefined,
  headers: Record<string, string> = {},
): Promise<number> {
  const all = { ...headers, ...(origin === undefined ? {} : { origin }) };
  try {
    const c = await TestClient.connect(url, { headers: all });
    c.ws.terminate();
    return 101;
  } catch {
    const r = await TestClient.refused(url, { headers: all });
    if (r.status === 403)
      expect(JSON.parse(r.body).error).toMatchObject({ code: 'forbidden', details: { reason: 'origin' } });
    return r.status;
  }
}

describe('Origin allowlist (auth off: same origin plus localhost)', () => {
  it('refuses a spoofed cross-site Origin with 403 while a bystander keeps talking', async () => {
    srv = await startServer();
    const bystander = await Bystander.start(srv.wsUrl);
    const url = `${srv.wsUrl}/echo`;
    const host = new URL(srv.url).host;
    expect(await status(url, 'https://evil.example')).toBe(403);
    expect(await status(url, `http://${host}.evil.example`)).toBe(403);
    expect(await status(url, 'null')).toBe(403);
    await bystander.checkpoint();
    expect(await status(url, `http://${host}`)).toBe(101); // same origin
    expect(await status(url, 'http://localhost:5173')).toBe(101); // a dev page on this machine
    expect(await status(url, undefined)).toBe(101); // not a browser
    expect(await bystander.stop()).toBeGreaterThan(0);
  });
});

describe('Origin allowlist (auth on)', () => {
  it('drops the localhost allowance and honours --allowed-origins', async () => {
    srv = await startServer({
      auth: { apiKeys: [API_KEY] },
      allowedOrigins: ['https://app.example.org', 'https://*.example.net'],
    });
    const auth = { authorization: `Bearer ${API_KEY}` };
    const url = `${srv.wsUrl}/echo`;
    expect(await status(url, 'http://localhost:5173', auth)).toBe(403);
    expect(await status(url, 'https://app.example.org', auth)).toBe(101);
    expect(await status(url, 'https://eu.example.net', auth)).toBe(101);
    expect(await status(url, 'https://example.net.evil.example', auth)).toBe(403);
    // The Origin check comes before credentials: a bad page learns nothing about tokens.
    expect(await status(url, 'https://evil.example')).toBe(403);
  });
});
