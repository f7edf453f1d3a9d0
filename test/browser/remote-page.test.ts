import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue, watchPage } from '../support/browser.js';
import { RemoteHost } from '../support/remote-host.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * The pages opened from another machine while auth is off (a browser in a network
 * namespace's view: its connections reach the server from a non-loopback address). They get
 * only what the rule leaves public, and say so instead of retrying forever.
 */

let srv: RunningServer;
let browser: Browser;
let remote: RemoteHost;
let away: { url: string };

beforeAll(async () => {
  remote = RemoteHost.create();
  srv = await startServer({ host: '0.0.0.0', allowPublicWithoutAuth: true, tasks: { poolSize: 1 } });
  away = await remote.relayTo(srv.port);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  remote?.close();
});

describe('pages from another machine with auth off', () => {
  it('the dashboard says it answers this machine only, and still charts the public /stream', async () => {
    const page = await browser.newPage();
    try {
      const reports = await watchPage(page);
      await page.goto(`${away.url}/`);
      await waitForTrue(page, "document.getElementById('conn-state').textContent === 'this machine only'");
      expect(await page.textContent('#auth-note')).toContain('only on its plain endpoints');
      await waitForTrue(page, "Number(document.getElementById('stream-count').textContent) >= 2");
      // It never tried /rt, which would be refused.
      expect(srv.server.metrics.endpoint('rt').accepted).toBe(0);
      expect(reports.violations).toEqual([]);
      expect(reports.pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('the run page stops with the server’s reason instead of reconnecting', async () => {
    const started = await fetch(
      `${srv.url.replace('0.0.0.0', '127.0.0.1')}/api/runs/demo/development/word-count/v1`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'a b' }),
      },
    );
    const { run_id } = (await started.json()) as { run_id: string };
    const page = await browser.newPage();
    try {
      await page.goto(`${away.url}/runs/${run_id}`);
      await waitForTrue(
        page,
        "document.getElementById('conn').textContent.includes('only answers clients on this machine')",
      );
      expect(srv.server.metrics.endpoint('task-runner').accepted).toBe(0);
    } finally {
      await page.close();
    }
  });
});
