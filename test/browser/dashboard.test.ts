import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue, watchPage } from '../support/browser.js';
import { TestClient } from '../support/client.js';
import { mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

const DAY = 86_400_000;

let browser: Browser;
const servers: RunningServer[] = [];
const pages: Page[] = [];
const sockets: TestClient[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.ws.terminate();
  for (const p of pages.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(async () => {
  await browser?.close();
});

async function start(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const srv = await startServer({
    tasks: { poolSize: 1 },
    // Presence updates quickly, so the test does not wait out the default debounce.
    namespaces: [
      { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true, joinLeaveDebounceMs: 50 },
    ],
    ...options,
  });
  servers.push(srv);
  return srv;
}

/** The dashboard in a new page, with its uncaught errors and CSP violations recorded. */
async function open(srv: RunningServer): Promise<{ page: Page; errors: string[]; violations: string[] }> {
  const page = await browser.newPage();
  pages.push(page);
  const reports = await watchPage(page);
  await page.goto(`${srv.url}/`);
  return { page, errors: reports.pageErrors, violations: reports.violations };
}

const text = (id: string) => `(document.getElementById('${id}').textContent || '')`;

describe('dashboard (a real browser)', () => {
  it('chats with a /chat/lobby client, charts /stream, runs tasks, and shows the status', async () => {
    const srv = await start();
    const { page, errors, violations } = await open(srv);
    await waitForTrue(page, `${text('conn-state')} === 'connected'`);

    // Chat: a plain WebSocket client in the same room, both ways, and presence.
    await waitForTrue(page, `${text('chat-channel')} === 'chat:lobby'`);
    const ws = await TestClient.connect(`${srv.wsUrl}/chat/lobby`);
    sockets.push(ws);
    await waitForTrue(page, "document.querySelectorAll('#chat-members li').length === 2");
    await ws.send('hello from a plain socket <img src=x onerror="window.pwned=1">');
    await waitForTrue(page, `${text('chat-log')}.includes('hello from a plain socket')`);
    // Text stays text.
    expect(await page.locator('#chat-log img').count()).toBe(0);
    await page.fill('#chat-input', 'hello from the browser');
    await page.click('#chat-send');
    expect(await ws.nextText()).toBe('hello from the browser');
    await waitForTrue(
      page,
      "document.querySelector('#chat-log li.mine')?.textContent.includes('hello from the browser')",
    );

    // Stream: samples arrive and are drawn.
    await waitForTrue(page, `Number(${text('stream-count')}) >= 3`);
    expect(await page.textContent('#stream-value')).toMatch(/^0\.\d{3}$|^1\.000$/);
    // Blue pixels of the line on the canvas.
    const drawn = await page.evaluate(`(() => {
      const canvas = document.getElementById('stream-chart');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let blue = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 150 && data[i] < 60) blue += 1;
      return blue;
    })()`);
    expect(drawn).toBeGreaterThan(20);

    // Tasks: a form from the input schema (with its defaults and bounds).
    await waitForTrue(page, "document.querySelectorAll('#task-select option').length >= 4");
    await page.selectOption('#task-select', 'demo/development/countdown@v1');
    expect(await page.inputValue('#input-n')).toBe('5');
    expect(await page.getAttribute('#input-n', 'max')).toBe('1000');
    // Inputs as JSON go past the form; the server's typed error comes back with its issues.
    await page.click('#task-form summary');
    await page.fill('#task-json', '{"n": 0}');
    await page.click('#task-launch');
    await waitForTrue(page, `${text('task-error')}.startsWith('invalid_inputs')`);
    expect(await page.textContent('#task-error')).toContain('• n:');
    await page.fill('#task-json', '');

    await page.fill('#input-n', '2');
    await page.fill('#input-delayMs', '50');
    await page.click('#task-launch');
    await waitForTrue(page, "document.querySelector('#runs li')?.dataset.status === 'SUCCEEDED'");
    const card = page.locator('#runs li').first();
    expect(await card.locator('pre.detail').textContent()).toContain('"message": "liftoff"');
    expect(await card.locator('progress').evaluate((p) => (p as unknown as { value: number }).value)).toBe(
      100,
    );
    const runId = await card.getAttribute('data-run');
    expect(await card.locator('a').getAttribute('href')).toBe(`${srv.url}/runs/${runId}`);
    expect(await card.locator('button.cancel').isHidden()).toBe(true);

    // Cancel from the card.
    await page.fill('#input-n', '200');
    await page.click('#task-launch');
    await waitForTrue(
      page,
      "document.querySelectorAll('#runs li').length === 2 && document.querySelector('#runs li').dataset.status === 'RUNNING'",
    );
    await page.locator('#runs li').first().locator('button.cancel').click();
    await waitForTrue(page, "document.querySelector('#runs li').dataset.status === 'ABORTED'");
    expect(await page.locator('#runs li').first().locator('pre.detail').textContent()).toBe(
      'USER: aborted on request',
    );

    // Status: the page's own /rt and /stream sockets and the plain chat client.
    await waitForTrue(page, 'document.querySelector(\'#status-endpoints tr[data-endpoint="rt"]\') !== null');
    await waitForTrue(page, `Number(${text('status-connections')}) >= 3`);
    expect(await page.textContent('#status-auth')).toContain('off');
    await waitForTrue(page, `${text('status-rtt')}.endsWith('ms')`);
    expect(await page.isHidden('#auth-note')).toBe(true);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
  });

  it('with auth on, says a token is needed, then works with one', async () => {
    const srv = await start({ auth: { jwtSecret: SECRET } });
    const { page, errors, violations } = await open(srv);
    await waitForTrue(page, `${text('conn-state')} === 'needs token'`);
    expect(await page.textContent('#auth-note')).toContain('auth on');
    // Nothing was tried on the WebSocket side without a token.
    expect(srv.server.metrics.endpoint('rt').accepted).toBe(0);

    await page.fill('#token', await mintToken({ sub: 'alice' }));
    await page.click('#token-form button[type="submit"]');
    await waitForTrue(page, `${text('conn-state')} === 'connected'`);
    expect(await page.isHidden('#auth-note')).toBe(true);
    await waitForTrue(page, "document.querySelectorAll('#task-select option').length >= 4");
    await waitForTrue(page, `Number(${text('stream-count')}) >= 1`);
    await page.fill('#chat-input', 'signed hello');
    await page.click('#chat-send');
    await waitForTrue(page, "document.querySelector('#chat-log li.mine .who')?.textContent === 'alice'");
    await waitForTrue(page, `${text('status-auth')} === 'on'`);

    // A bad token is refused, and the page says so.
    await page.fill('#token', 'not-a-token');
    await page.click('#token-form button[type="submit"]');
    await waitForTrue(page, `${text('conn-state')} === 'needs token'`);
    expect(await page.textContent('#auth-note')).toContain('refused this token');
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
  });
});
