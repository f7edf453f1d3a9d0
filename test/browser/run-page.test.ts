import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue, watchPage } from '../support/browser.js';
import { mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;
let browser: Browser;

beforeAll(async () => {
  srv = await startServer({ tasks: { poolSize: 1 } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

async function start(task: string, inputs: unknown): Promise<{ run_id: string; url: string }> {
  const res = await fetch(`${srv.url}/api/runs/demo/development/${task}/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(inputs),
  });
  return (await res.json()) as { run_id: string; url: string };
}

describe('run page (a real browser)', () => {
  it('shows a run live: status, progress and updates; its Cancel button aborts it', async () => {
    const run = await start('countdown', { n: 100, delayMs: 300 });
    const page = await browser.newPage();
    const reports = await watchPage(page);
    try {
      await page.goto(run.url);
      await expect.poll(() => page.textContent('#task')).toBe('demo/development/countdown@v1');
      // Live: the status turns RUNNING and the progress moves while the page is open.
      await waitForTrue(page, "document.getElementById('status').textContent === 'RUNNING'");
      await waitForTrue(page, "document.getElementById('progress').value > 0");
      expect(await page.textContent('#inputs')).toContain('"delayMs": 300');
      await page.click('#cancel');
      await waitForTrue(page, "document.getElementById('status').textContent === 'ABORTED'");
      expect(await page.textContent('#error')).toBe('USER: aborted on request');
      const stored = (await (await fetch(`${srv.url}/api/runs/${run.run_id}`)).json()) as {
        updates: unknown[];
      };
      expect(await page.locator('#updates li').count()).toBe(stored.updates.length);
      expect(reports).toEqual({ violations: [], consoleErrors: [], pageErrors: [] });
    } finally {
      await page.close();
    }
  });

  it('replays a finished run with its outputs', async () => {
    const run = await start('word-count', { text: 'one two two' });
    const ended = await srv.server.tasks?.runs.waitForEnd(run.run_id);
    expect(ended?.status).toBe('SUCCEEDED');
    const page = await browser.newPage();
    try {
      await page.goto(run.url);
      await waitForTrue(page, "document.getElementById('status').textContent === 'SUCCEEDED'");
      expect(JSON.parse((await page.textContent('#outputs')) ?? '')).toEqual(ended?.outputs);
      expect(await page.locator('#updates li').count()).toBe(ended?.seq);
      expect(await page.isHidden('#cancel')).toBe(true);
      expect(await page.textContent('#conn')).toBe('run ended');
    } finally {
      await page.close();
    }
  });
});

describe('run page with auth on', () => {
  it('reads the run with the token from the URL fragment, and says so when there is none or it may not', async () => {
    const secured = await startServer({ auth: { jwtSecret: SECRET }, tasks: { poolSize: 1 } });
    const page = await browser.newPage();
    try {
      const alice = await mintToken({
        sub: 'alice',
        wirehub: { endpoints: ['task-runner'], tasks: ['demo/*'] },
      });
      const started = await fetch(`${secured.url}/api/runs/demo/development/word-count/v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
        body: JSON.stringify({ text: 'a b a' }),
      });
      const run = (await started.json()) as { run_id: string; url: string };

      await page.goto(run.url);
      await waitForTrue(page, "document.getElementById('conn').textContent.includes('needs a token')");

      const bob = await mintToken({ sub: 'bob', wirehub: { endpoints: ['task-runner'], tasks: ['demo/*'] } });
      // Only the fragment differs: leave the page first, or the browser would not load it again.
      await page.goto('about:blank');
      await page.goto(`${run.url}#access_token=${bob}`);
      await waitForTrue(
        page,
        "document.getElementById('conn').textContent.includes('another user started it')",
      );

      // A fresh tab for alice (sessionStorage is per tab).
      await page.close();
      const own = await browser.newPage();
      try {
        await own.goto(`${run.url}#access_token=${alice}`);
        await waitForTrue(own, "document.getElementById('status').textContent === 'SUCCEEDED'");
        expect(JSON.parse((await own.textContent('#outputs')) ?? '')).toMatchObject({ total: 3, unique: 2 });
        // The token left the address bar, and a reload still works from this tab's storage.
        expect(await own.evaluate('location.hash')).toBe('');
        await own.reload();
        await waitForTrue(own, "document.getElementById('status').textContent === 'SUCCEEDED'");
      } finally {
        await own.close();
      }
    } finally {
      if (!page.isClosed()) await page.close();
      await secured.close();
    }
  });
});
