import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue } from '../support/browser.js';
import { type RunningServer, startServer } from '../support/server.js';

let browser: Browser;
let srv: RunningServer;

beforeAll(async () => {
  browser = await launchChromium();
  srv = await startServer({ tasks: false });
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

describe('Swagger UI at /docs (a real browser)', () => {
  it('renders the wirehub document with its operations', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${srv.url}/docs`);
    // Swagger UI fetched /docs/json and drew its title and an operation from it.
    await waitForTrue(
      page,
      "(document.querySelector('.information-container .title')?.textContent || '').startsWith('wirehub')",
    );
    await page.waitForSelector('.opblock-summary-path[data-path="/api/publish"]', { timeout: 15_000 });
    expect(await page.title()).toBe('wirehub API');
    // wirehub's icon and bar, not Fastify's icon; the bar links back to the dashboard.
    const icon = await page.getAttribute('link[rel="icon"]', 'href');
    expect(icon).toMatch(/\/theme\/favicon\.svg$/);
    const served = await fetch(new URL(icon ?? '', page.url()));
    expect(served.headers.get('content-type')).toBe('image/svg+xml');
    expect(await served.text()).toContain('<title>wirehub</title>');
    expect(await page.getAttribute('.wirehub-bar a.wirehub-home', 'href')).toBe('/');
    expect(errors).toEqual([]);
    await page.close();
  });
});
