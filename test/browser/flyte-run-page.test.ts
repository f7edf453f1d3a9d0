import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue } from '../support/browser.js';
import { sayHello } from '../support/flyte-fixtures.js';
import { FlyteStandin } from '../support/flyte-standin.js';
import { type RunningServer, startServer } from '../support/server.js';

let flyte: FlyteStandin;
let srv: RunningServer;
let browser: Browser;

beforeAll(async () => {
  flyte = await FlyteStandin.start({ tasks: [sayHello] });
  srv = await startServer({ tasks: { flyte: { endpoint: flyte.url, org: 'testorg' } } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await flyte?.close();
});

describe('the run page of a Flyte run (a real browser)', () => {
  it('shows its phases and outputs, and links to the run in the Flyte console', async () => {
    const res = await fetch(`${srv.url}/api/runs/flytesnacks/development/hello.say_hello/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Eve' }),
    });
    const run = (await res.json()) as { run_id: string; url: string };
    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/runs/${run.run_id}`);
      await waitForTrue(page, "document.getElementById('status').textContent === 'SUCCEEDED'");
      expect(await page.textContent('#outputs')).toContain('Hello, Eve!');
      expect(await page.isVisible('#external')).toBe(true);
      expect(await page.textContent('#engine')).toBe('Flyte');
      expect(await page.getAttribute('#console a', 'href')).toBe(run.url);
      expect(run.url).toMatch(/\/v2\/domain\/development\/project\/flytesnacks\/runs\/wh[0-9a-f]{24}$/);
    } finally {
      await page.close();
    }
  });
});
