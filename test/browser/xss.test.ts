import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineEndpoint, Frame } from '../../src/index.js';
import { launchChromium, waitForTrue } from '../support/browser.js';
import { TestClient } from '../support/client.js';
import { RtClient } from '../support/rt-client.js';
import { mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * XSS payloads in every field a page shows (chat text and data, user names, presence, task
 * descriptions, input names and defaults, run messages, outputs and errors, run ids taken
 * from the URL, endpoint names, error messages that echo input, and in the admin tables user
 * ids, endpoint and channel names): each is rendered as text and
 * never run. The pages' CSP would block an injected script anyway, so this test turns CSP off
 * (bypassCSP): the rendering must be safe on its own.
 */

/** Sets `window.__xss` (or opens a dialog) if a page ever runs it as code. Same as the fixture's. */
const PAYLOAD =
  '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"><svg onload="window.__xss=3">' +
  "javascript:window.__xss=4//'-alert(5)-'{{constructor.constructor('alert(6)')()}}";

const DAY = 86_400_000;
const fixtures = fileURLToPath(new URL('../fixtures/tasks-xss/xss.mjs', import.meta.url));

let srv: RunningServer;
let browser: Browser;
let context: BrowserContext;
const dialogs: string[] = [];

beforeAll(async () => {
  srv = await startServer({
    auth: { jwtSecret: SECRET },
    tasks: { poolSize: 1, modules: [fixtures] },
    namespaces: [
      { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true, joinLeaveDebounceMs: 50 },
      // For a channel named like a javascript: URL (the admin pages link channel names).
      { pattern: 'javascript:*' },
    ],
    endpoints: [
      defineEndpoint({
        path: '/xss',
        name: PAYLOAD,
        open: (session) => {
          session.send(Frame.text(PAYLOAD));
          return {};
        },
      }),
    ],
  });
  browser = await launchChromium();
  context = await browser.newContext({ bypassCSP: true });
  context.on('page', (page) =>
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    }),
  );
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await srv?.close();
});

/** Nothing ran: no global set, no dialog, no element made from a payload. */
async function expectInert(page: Page): Promise<void> {
  expect(await page.evaluate('window.__xss')).toBeUndefined();
  expect(dialogs).toEqual([]);
  expect(await page.evaluate("document.querySelectorAll('img, svg, iframe, script:not([src])').length")).toBe(
    0,
  );
  expect(
    await page.evaluate('document.querySelectorAll(\'[onerror], [onload], a[href^="javascript:"]\').length'),
  ).toBe(0);
}

/** The payload as it appears inside JSON text (quotes escaped). */
const IN_JSON = JSON.stringify(PAYLOAD).slice(1, -1);

/** Waits until an element matching `selector` shows `text` (the payload, literally) as its text. */
async function expectPayloadText(page: Page, selector: string, text = PAYLOAD): Promise<void> {
  await waitForTrue(
    page,
    `[...document.querySelectorAll(${JSON.stringify(selector)})].some((e) => e.textContent.includes(${JSON.stringify(text)}))`,
  );
}

describe('XSS payloads on the dashboard', () => {
  it('stay text in chat (messages, data, names, presence), tasks (descriptions, inputs, runs) and status', async () => {
    const user = await mintToken({ sub: PAYLOAD });
    const page = await context.newPage();
    try {
      await page.goto(`${srv.url}/`);
      await page.fill('#token', user);
      await page.click('#token-form button[type="submit"]');
      await waitForTrue(page, "document.getElementById('conn-state').textContent === 'connected'");
      await waitForTrue(page, "document.getElementById('chat-channel').textContent === 'chat:lobby'");

      // Another user, named with the payload too, joins over the plain endpoint and talks.
      const other = await TestClient.connect(`${srv.wsUrl}/chat/lobby`, {
        headers: { authorization: `Bearer ${await mintToken({ sub: `${PAYLOAD}2` })}` },
      });
      await expectPayloadText(page, '#chat-members li');
      await other.send(PAYLOAD);
      await expectPayloadText(page, '#chat-log li');
      // Structured data from /rt: keys and values shown as JSON text.
      const rt = await RtClient.connect(`${srv.wsUrl}/rt?access_token=${user}`);
      await rt.call('publish', { channel: 'chat:lobby', data: { [PAYLOAD]: PAYLOAD } });
      await expectPayloadText(page, '#chat-log li', IN_JSON);
      // The page's own user sends it, and sees their name.
      await page.fill('#chat-input', PAYLOAD);
      await page.click('#chat-send');
      // (The /rt publication came first, as JSON text.)
      expect(await other.nextText()).toBe(JSON.stringify({ [PAYLOAD]: PAYLOAD }));
      expect(await other.nextText()).toBe(PAYLOAD);
      await expectPayloadText(page, '#chat-log li.mine .who');
      other.ws.terminate();
      rt.ws.terminate();

      // A room name past the input's pattern: the server refuses it, the page says so as text.
      await page.evaluate(`(() => {
        document.getElementById('chat-room').value = ${JSON.stringify(PAYLOAD)};
        document.getElementById('chat-room-form').dispatchEvent(new Event('submit', { cancelable: true }));
      })()`);
      await expectPayloadText(page, '#chat-channel');
      await waitForTrue(page, "!document.getElementById('chat-note').hidden");

      // Tasks: the description, an input's name, description and default are the payload.
      await waitForTrue(
        page,
        "[...document.querySelectorAll('#task-select option')].some((o) => o.value === 'xss/web/echo@v1')",
      );
      await page.selectOption('#task-select', 'xss/web/echo@v1');
      await expectPayloadText(page, '#task-description');
      await expectPayloadText(page, '#task-fields label');
      await page.fill('#input-text', PAYLOAD);
      await page.click('#task-launch');
      await waitForTrue(page, "document.querySelector('#runs li')?.dataset.status === 'SUCCEEDED'");
      await expectPayloadText(page, '#runs li pre.detail', IN_JSON);
      // A failing run: its error message is the payload.
      await page.selectOption('#task-select', 'xss/web/fail@v1');
      await page.fill('#input-text', PAYLOAD);
      await page.click('#task-launch');
      await waitForTrue(page, "document.querySelector('#runs li')?.dataset.status === 'FAILED'");
      await expectPayloadText(page, '#runs li pre.detail');

      // Status: an endpoint named with the payload, once it has had a connection.
      const xss = await TestClient.connect(`${srv.wsUrl}/xss?access_token=${user}`);
      await expectPayloadText(page, '#status-endpoints td');
      xss.ws.terminate();

      await expectInert(page);
    } finally {
      await page.close();
    }
  });
});

describe('XSS payloads on the admin pages', () => {
  it('stay text: user ids, endpoint names and channel names in the tables, filters and results', async () => {
    const named = await mintToken({ sub: PAYLOAD });
    const chat = await TestClient.connect(`${srv.wsUrl}/chat/lobby?access_token=${named}`);
    const xss = await TestClient.connect(`${srv.wsUrl}/xss?access_token=${named}`);
    // The most a channel name can carry: a name that is a javascript: URL if used as a link.
    const channel = 'javascript:window.__xss=4';
    const rt = await RtClient.connect(`${srv.wsUrl}/rt?access_token=${named}`);
    await rt.call('subscribe', { channel });
    const page = await context.newPage();
    try {
      await page.goto(`${srv.url}/admin/connections`);
      await page.fill('#token', await mintToken({ sub: 'root', wirehub: { admin: true } }));
      await page.click('#token-form button[type="submit"]');
      await expectPayloadText(page, '#conn-rows td[data-label="user"]');
      await expectPayloadText(page, '#conn-rows td[data-label="endpoint"]');
      await expectPayloadText(page, '#conn-rows td[data-label="channels"]', channel);
      await expectInert(page);

      await page.click('#nav a[data-view="channels"]');
      await expectPayloadText(page, '#chan-rows td[data-label="channel"]', channel);
      await expectInert(page);
      // Its link leads to the filtered list, with the name as text in the filter and summary.
      await page.click(`#chan-rows tr[data-channel="${channel}"] a`);
      await expectPayloadText(page, '#conn-summary', channel);
      expect(await page.inputValue('#conn-channel')).toBe(channel);

      // A user filter and a disconnect of every connection of that user.
      await page.goto(`${srv.url}/admin/connections?user=${encodeURIComponent(PAYLOAD)}`);
      await expectPayloadText(page, '#conn-summary');
      expect(await page.inputValue('#conn-user')).toBe(PAYLOAD);
      await page.fill('#disconnect-user', PAYLOAD);
      await page.click('#disconnect-user-form button');
      await expectPayloadText(page, '#admin-result');
      for (const c of [chat, xss, rt]) expect((await c.closed).code).toBe(1008);
      await expectInert(page);
    } finally {
      for (const c of [chat, xss, rt]) c.ws.terminate();
      await page.close();
    }
  });
});

describe('XSS payloads on the run page', () => {
  it('stay text: the task, inputs, messages, outputs, errors, and a run id taken from the URL', async () => {
    const token = await mintToken({ sub: 'alice' });
    const start = async (name: string) => {
      const r = await fetch(`${srv.url}/api/runs/xss/web/${name}/v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ text: PAYLOAD }),
      });
      const { run_id } = (await r.json()) as { run_id: string };
      await srv.server.tasks?.runs.waitForEnd(run_id);
      return run_id;
    };
    const ok = await start('echo');
    const failed = await start('fail');

    const page = await context.newPage();
    try {
      await page.goto(`${srv.url}/runs/${ok}#access_token=${token}`);
      await waitForTrue(page, "document.getElementById('status').textContent === 'SUCCEEDED'");
      await expectPayloadText(page, '#inputs', IN_JSON);
      await expectPayloadText(page, '#updates li');
      await expectPayloadText(page, '#outputs', IN_JSON);
      await expectInert(page);

      await page.goto('about:blank');
      await page.goto(`${srv.url}/runs/${failed}#access_token=${token}`);
      await waitForTrue(page, "document.getElementById('status').textContent === 'FAILED'");
      await expectPayloadText(page, '#error');
      await expectInert(page);

      // A link to a "run" whose id is the payload: the page shows the id, and the server's
      // error (which names it), as text.
      await page.goto('about:blank');
      await page.goto(`${srv.url}/runs/${encodeURIComponent(PAYLOAD)}#access_token=${token}`);
      await expectPayloadText(page, '#run-id');
      await waitForTrue(page, "document.getElementById('conn').textContent.startsWith('error:')");
      expect(await page.title()).toContain('<img src=x');
      await expectInert(page);
    } finally {
      await page.close();
    }
  });
});
