import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type PageReports, waitForTrue, watchPage } from '../support/browser.js';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * Every page at a phone's width (390x844) and a desktop's (1280x800): no sideways scroll, no
 * CSP violation, and a full-page screenshot of each under test-results/screenshots/ (git
 * ignored; CI keeps it as an artifact). The server holds real connections and channels, so the
 * admin pages have rows to show.
 */

const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const DAY = 86_400_000;
const WIDTHS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 800 },
] as const;

let browser: Browser;
let srv: RunningServer;
let runId: string;
const sockets: { ws: { terminate(): void } }[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  srv = await startServer({
    tasks: { poolSize: 1 },
    namespaces: [
      { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true, joinLeaveDebounceMs: 50 },
    ],
  });
  browser = await launchChromium();
  // Real clients: a plain chat client, and /rt clients on a few channels.
  sockets.push(await TestClient.connect(`${srv.wsUrl}/chat/lobby`));
  for (const room of ['ops', 'a-rather-long-channel-name-that-must-wrap-on-a-phone-0123456789']) {
    const rt = await RtClient.connect(`${srv.wsUrl}/rt`);
    sockets.push(rt);
    await rt.call('subscribe', { channel: `chat:${room}` });
    await rt.call('publish', { channel: `chat:${room}`, data: `hello ${room}` });
  }
  const res = await fetch(`${srv.url}/api/runs/demo/development/countdown/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 2, delayMs: 10 }),
  });
  runId = ((await res.json()) as { run_id: string }).run_id;
  await srv.server.tasks?.runs.waitForEnd(runId);
});

afterAll(async () => {
  for (const s of sockets.splice(0)) s.ws.terminate();
  await browser?.close();
  await srv?.close();
  console.log(`screenshots: ${SHOTS}`);
});

/** No sideways scroll; then a full-page screenshot named after the width and the page. */
async function check(page: Page, width: string, name: string): Promise<void> {
  const sizes = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]');
  const [scrollWidth, innerWidth] = sizes as [number, number];
  expect(
    scrollWidth,
    `${name} at ${width}: scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`,
  ).toBeLessThanOrEqual(innerWidth);
  await page.screenshot({ path: join(SHOTS, `${width}-${name}.png`), fullPage: true });
}

describe.each(WIDTHS)('every page at $name width ($width x $height)', ({ name: width, ...viewport }) => {
  let context: BrowserContext;
  let page: Page;
  let reports: PageReports;

  beforeAll(async () => {
    context = await browser.newContext({ viewport });
    page = await context.newPage();
    reports = await watchPage(page);
  });

  afterAll(async () => {
    await context?.close();
  });

  it('the dashboard and its admin pages, reached through the nav', async () => {
    await page.goto(`${srv.url}/`);
    await waitForTrue(page, "document.getElementById('conn-state').textContent === 'connected'");
    await waitForTrue(page, "Number(document.getElementById('stream-count').textContent) >= 2");
    await waitForTrue(page, "document.querySelectorAll('#task-select option').length >= 4");
    await waitForTrue(page, "document.querySelectorAll('#status-endpoints tr').length >= 2");
    await check(page, width, 'dashboard');

    await page.click('#nav a[data-view="connections"]');
    // The page's own /rt and /stream, the plain chat client and the two /rt clients.
    await waitForTrue(page, "document.querySelectorAll('#conn-rows tr').length >= 5");
    await check(page, width, 'admin-connections');

    await page.click('#nav a[data-view="channels"]');
    await waitForTrue(page, `document.querySelector('#chan-rows tr[data-channel="chat:ops"]') !== null`);
    expect(
      await page.textContent('#chan-rows tr[data-channel="chat:ops"] td[data-label="subscribers"]'),
    ).toBe('1');
    await check(page, width, 'admin-channels');

    await page.click('#nav a[data-view="nodes"]');
    await waitForTrue(page, "document.querySelectorAll('#node-rows tr').length === 1");
    await check(page, width, 'admin-nodes');
    expect(reports.violations).toEqual([]);
    expect(reports.pageErrors).toEqual([]);
  });

  it('the run page', async () => {
    await page.goto(`${srv.url}/runs/${runId}`);
    await waitForTrue(page, "document.getElementById('status').textContent === 'SUCCEEDED'");
    await check(page, width, 'run');
    expect(reports.violations).toEqual([]);
  });

  it('the 404 pages, whose link leads home', async () => {
    const missing = await page.goto(`${srv.url}/runs/r-no-such-run-${'x'.repeat(60)}`);
    expect(missing?.status()).toBe(404);
    expect(await page.textContent('h1')).toContain('Not found');
    await check(page, width, '404-run');

    const unknown = await page.goto(`${srv.url}/no/such/page`);
    expect(unknown?.status()).toBe(404);
    expect(await page.textContent('#not-found-message')).toBe('There is no page at /no/such/page.');
    await check(page, width, '404-page');
    await page.click('#home');
    await waitForTrue(page, "document.getElementById('conn-state')?.textContent === 'connected'");
    expect(new URL(page.url()).pathname).toBe('/');
    expect(reports.violations).toEqual([]);
  });

  it('the API docs, with wirehub branding', async () => {
    await page.goto(`${srv.url}/docs`);
    await page.waitForSelector('.opblock-summary-path[data-path="/api/publish"]', { timeout: 15_000 });
    expect(await page.textContent('.wirehub-bar .wirehub-brand')).toBe('wirehub');
    await check(page, width, 'docs');
    expect(reports.violations).toEqual([]);
  });
});
