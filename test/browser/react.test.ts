import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WirehubClient } from '../../src/client/index.js';
import { createServer, PAGE } from '../../src/index.js';
import { launchChromium, waitForTrue } from '../support/browser.js';
import { TestClient } from '../support/client.js';
import { type RunningServer, tempDir } from '../support/server.js';

const DAY = 86_400_000;

let browser: Browser;
let appJs: string;
const servers: RunningServer[] = [];
const pages: Page[] = [];
const sockets: TestClient[] = [];
const clients: WirehubClient[] = [];
let pageErrors: string[] = [];

beforeAll(async () => {
  // The page as an app would ship it: its code, wirehub/react, the browser SDK and React, one bundle.
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./react-app/app.tsx', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    // Development React: StrictMode mounts, unmounts and mounts every component again.
    define: { 'process.env.NODE_ENV': '"development"' },
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  appJs = bundle.outputFiles[0]?.text ?? '';
  const inputs = Object.keys(bundle.metafile.inputs);
  expect(inputs.some((path) => path.includes('node_modules/react-dom/'))).toBe(true);
  expect(inputs.filter((path) => path.includes('node_modules/zod/'))).toEqual([]);
  browser = await launchChromium();
});

afterEach(async () => {
  pageErrors = [];
  for (const c of clients.splice(0)) await c.close();
  for (const s of sockets.splice(0)) s.ws.terminate();
  for (const p of pages.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(async () => {
  await browser?.close();
});

/**
 * A real server serving the React page at /react-test/ (its own HTTP route, as an app served by
 * wirehub would have), so the page and the client share the server's origin.
 */
async function start(dataDir: string, port = 0): Promise<RunningServer> {
  const server = await createServer({
    port,
    dataDir,
    logLevel: 'silent',
    defaultMetrics: false,
    tasks: { poolSize: 1 },
    namespaces: [
      { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true, joinLeaveDebounceMs: 50 },
    ],
  });
  // A page of the app's own: it asks for the pages' security headers (its script is a file).
  server.http.get('/react-test/', { ...PAGE }, (_req, reply) => {
    void reply
      .type('text/html')
      .send(
        '<!doctype html><html><body><div id="root"></div><script type="module" src="app.js"></script></body></html>',
      );
  });
  server.http.get('/react-test/app.js', (_req, reply) => {
    void reply.type('text/javascript').send(appJs);
  });
  const address = await server.listen();
  const srv = { ...address, server, close: () => server.close() };
  servers.push(srv);
  return srv;
}

/** The page, with what it throws collected for the test's last check and for failure messages. */
async function open(url: string): Promise<Page> {
  const page = await browser.newPage();
  pages.push(page);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(url);
  return page;
}

/** Waits for an expression to hold in the page; on timeout, says what the page showed. */
async function waitFor(page: Page, expression: string): Promise<void> {
  try {
    await waitForTrue(page, expression);
  } catch (err) {
    const shown = await page.evaluate('document.body.innerText').catch(() => '(page gone)');
    throw new Error(
      `${expression} did not hold; the page showed:\n${shown}\nerrors: ${pageErrors.join('\n')}\n${String(err)}`,
    );
  }
}

const text = (id: string) => `(document.getElementById('${id}')?.textContent || '')`;
const count = (selector: string) => `document.querySelectorAll('${selector}').length`;

describe('wirehub/react (a real browser)', () => {
  it('subscribes, receives, publishes, tracks presence, runs a task and recovers after the server drops it', async () => {
    const dataDir = tempDir();
    const srv = await start(dataDir);
    const page = await open(`${srv.url}/react-test/`);
    await waitFor(page, `${text('state')} === 'connected'`);
    await waitFor(page, `${text('chat-status')} === 'subscribed'`);
    // StrictMode mounted everything twice: still one subscription, and the page alone in the room.
    await waitFor(page, `${count('#members li')} === 1`);

    // Presence and live publications, both ways, with a plain /chat/lobby socket.
    const ws = await TestClient.connect(`${srv.wsUrl}/chat/lobby`);
    sockets.push(ws);
    await waitFor(page, `${count('#members li')} === 2`);
    await ws.send('hello from a plain socket');
    await waitFor(page, `${text('chat-log')}.includes('hello from a plain socket')`);
    await page.click('#chat-send');
    expect(await ws.nextText()).toBe('hello from react');
    await waitFor(page, `${text('chat-log')}.includes('hello from react')`);
    ws.ws.terminate();
    await waitFor(page, `${count('#members li')} === 1`);

    // A demo task from start to SUCCEEDED, every update in order.
    await page.click('#run-start');
    await waitFor(page, `${text('run-status')} === 'SUCCEEDED'`);
    const updates = (await page.textContent('#run-updates'))?.split(',') ?? [];
    expect(updates.at(-1)).toBe('SUCCEEDED');
    expect(updates.length).toBeGreaterThanOrEqual(3);
    expect(JSON.parse((await page.textContent('#run-outcome')) ?? '')).toMatchObject({ counted: 3 });
    expect(await page.textContent('#run-error')).toBe('');
    // useRun(runId) follows the same run from its channel: every update, in order, once.
    await waitFor(page, `${text('follow-updates')} === ${text('run-updates')}`);

    // The server drops the page's socket (a drain: 1001), comes back on the same port and data,
    // and takes a publication while the page is away: the page reconnects and recovers it.
    await srv.server.drain(0);
    await waitFor(page, `${text('state')} === 'reconnecting'`);
    const again = await start(dataDir, srv.port);
    const publisher = new WirehubClient({ url: again.wsUrl, WebSocket });
    clients.push(publisher);
    await publisher.publish('chat:lobby', 'sent while the page was away');
    await waitFor(page, `${text('state')} === 'connected'`);
    await waitFor(page, `${text('chat-log')}.includes('sent while the page was away')`);
    await waitFor(page, `${text('chat-recovery')}.startsWith('true:')`);
    const log = await page.locator('#chat-log li').allTextContents();
    expect(log.filter((line) => line === 'sent while the page was away')).toHaveLength(1);
    expect(log.filter((line) => line === 'hello from react')).toHaveLength(1);
    await waitFor(page, `${count('#members li')} === 1`);
    expect(pageErrors).toEqual([]);
  });
});
