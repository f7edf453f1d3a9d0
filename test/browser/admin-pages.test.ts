import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue, watchPage } from '../support/browser.js';
import { TestClient } from '../support/client.js';
import { startNodes } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { RtClient } from '../support/rt-client.js';
import { API_KEY, mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

const DAY = 86_400_000;

let browser: Browser;
const servers: RunningServer[] = [];
const pages: Page[] = [];
const sockets: { ws: { terminate(): void } }[] = [];

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
    tasks: false,
    namespaces: [
      { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true, joinLeaveDebounceMs: 50 },
    ],
    ...options,
  });
  servers.push(srv);
  return srv;
}

async function open(srv: RunningServer, path = '/') {
  const page = await browser.newPage();
  pages.push(page);
  const reports = await watchPage(page);
  await page.goto(`${srv.url}${path}`);
  return { page, reports };
}

const text = (selector: string) => `(document.querySelector(${JSON.stringify(selector)})?.textContent || '')`;
const rows = (tbody: string) => `document.querySelectorAll('#${tbody} tr')`;

describe('dashboard admin pages (a real browser)', () => {
  it('lists connections, channels and nodes, and disconnects a connection with the chosen close code', async () => {
    const srv = await start();
    const plain = await TestClient.connect(`${srv.wsUrl}/chat/lobby`);
    const rt = await RtClient.connect(`${srv.wsUrl}/rt`);
    sockets.push(plain, rt);
    await rt.call('subscribe', { channel: 'chat:admin-test' });

    const { page, reports } = await open(srv);
    await waitForTrue(page, `${text('#conn-state')} === 'connected'`);

    // Nodes, from the nav.
    await page.click('#nav a[data-view="nodes"]');
    expect(new URL(page.url()).pathname).toBe('/admin/nodes');
    await waitForTrue(page, `${rows('node-rows')}.length === 1`);
    expect(await page.title()).toBe('Nodes · wirehub');
    expect(await page.isHidden('#view-home')).toBe(true);
    const api = (await (await fetch(`${srv.url}/api/admin/nodes`)).json()) as { nodes: { node: string }[] };
    expect(await page.getAttribute('#node-rows tr', 'data-node')).toBe(api.nodes[0]?.node);
    await waitForTrue(page, `Number(${text('#node-rows td[data-label="connections"]')}) >= 4`);

    // Channels: the real subscription's count, and its presence (chat:* tracks presence).
    await page.click('#nav a[data-view="channels"]');
    await waitForTrue(
      page,
      `document.querySelector('#chan-rows tr[data-channel="chat:admin-test"]') !== null`,
    );
    const row = '#chan-rows tr[data-channel="chat:admin-test"]';
    expect(await page.textContent(`${row} td[data-label="subscribers"]`)).toBe('1');
    expect(await page.textContent(`${row} td[data-label="presence"]`)).toBe('1');
    // A second subscriber shows on the next refresh (the Refresh button, not the timer).
    const rt2 = await RtClient.connect(`${srv.wsUrl}/rt`);
    sockets.push(rt2);
    await rt2.call('subscribe', { channel: 'chat:admin-test' });
    await page.uncheck('#admin-auto');
    await page.click('#admin-refresh');
    await waitForTrue(page, `${text(`${row} td[data-label="subscribers"]`)} === '2'`);
    // The lobby has the plain client and the dashboard's own chat panel.
    await waitForTrue(
      page,
      `Number(${text('#chan-rows tr[data-channel="chat:lobby"] td[data-label="subscribers"]')}) === 2`,
    );

    // A channel's name leads to its connections.
    await page.click(`${row} a`);
    expect(new URL(page.url()).search).toBe('?channel=chat%3Aadmin-test');
    await waitForTrue(page, `${rows('conn-rows')}.length === 2`);
    expect(await page.inputValue('#conn-channel')).toBe('chat:admin-test');
    expect(await page.textContent('#conn-summary')).toContain('matching channel chat:admin-test');
    await page.click('#conn-filter-clear');
    // Every connection: the page's own /rt and /stream, the plain chat client, two /rt clients.
    await waitForTrue(page, `${rows('conn-rows')}.length === 5`);
    const plainRow = '#conn-rows tr[data-endpoint="chat"]';
    expect(await page.textContent(`${plainRow} td[data-label="channels"]`)).toBe('chat:lobby');
    expect(await page.textContent(`${plainRow} td[data-label="remote address"]`)).toMatch(/127\.0\.0\.1/);
    expect(await page.textContent(`${plainRow} td[data-label="since"]`)).toMatch(/ago$/);

    // Disconnect the plain client with a close code of our own.
    await page.selectOption('#close-code', 'other');
    await page.fill('#close-code-other', '4321');
    await page.fill('#close-reason', 'bye from the admin page');
    await page.click(`${plainRow} button`);
    expect(await plain.closed).toEqual({ code: 4321, reason: 'bye from the admin page' });
    await waitForTrue(page, `${text('#admin-result')}.includes('1 connection(s) closed with code 4321')`);
    await waitForTrue(page, `document.querySelector('${plainRow}') === null`);
    // The other clients are still connected.
    await rt.call('publish', { channel: 'chat:admin-test', data: 'still here' });

    // A code outside 4000-4999 is not sent.
    await page.fill('#close-code-other', '3000');
    await page.click('#conn-rows tr[data-endpoint="rt"] button');
    await waitForTrue(page, `${text('#admin-note')}.includes('4000 to 4999')`);

    // Back and forward move between pages.
    await page.goBack();
    await waitForTrue(page, `location.search === '?channel=chat%3Aadmin-test'`);
    await page.click('#nav a[data-view="home"]');
    await waitForTrue(page, `!document.getElementById('view-home').hidden`);
    expect(await page.isHidden('#view-admin')).toBe(true);
    expect(reports.pageErrors).toEqual([]);
    expect(reports.violations).toEqual([]);
  });

  it('with auth on: asks for a token, says when it lacks the admin grant, disconnects every connection of a user', async () => {
    const srv = await start({ auth: { jwtSecret: SECRET, apiKeys: [API_KEY] } });
    const alice = await mintToken({ sub: 'alice' });
    const a1 = await TestClient.connect(`${srv.wsUrl}/echo?access_token=${alice}`);
    const a2 = await RtClient.connect(`${srv.wsUrl}/rt?access_token=${alice}`);
    const bob = await TestClient.connect(`${srv.wsUrl}/echo?access_token=${await mintToken({ sub: 'bob' })}`);
    sockets.push(a1, a2, bob);

    const { page, reports } = await open(srv, '/admin/connections');
    await waitForTrue(page, `${text('#admin-note')}.includes('paste a token')`);

    // A token without the admin grant.
    await page.fill('#token', await mintToken({ sub: 'carol' }));
    await page.click('#token-form button[type="submit"]');
    await waitForTrue(page, `${text('#admin-note')}.includes('need the admin grant')`);

    // With the grant: the list, and a filter by user from a user's link.
    await page.fill('#token', await mintToken({ sub: 'root', wirehub: { admin: true } }));
    await page.click('#token-form button[type="submit"]');
    await waitForTrue(page, `document.querySelectorAll('#conn-rows tr[data-user="alice"]').length === 2`);
    expect(await page.isHidden('#admin-note')).toBe(true);
    await page.click('#conn-rows tr[data-user="bob"] td[data-label="user"] a');
    await waitForTrue(page, `${rows('conn-rows')}.length === 1`);
    expect(await page.inputValue('#conn-user')).toBe('bob');

    await page.selectOption('#close-code', '4003');
    await page.fill('#disconnect-user', 'alice');
    await page.click('#disconnect-user-form button');
    expect((await a1.closed).code).toBe(4003);
    expect((await a2.closed).code).toBe(4003);
    await waitForTrue(
      page,
      `${text('#admin-result')}.includes('user alice: 2 connection(s) closed with code 4003')`,
    );
    await bob.send('still here');
    expect(await bob.next()).toBe('Echo: still here');
    expect(reports.pageErrors).toEqual([]);
    expect(reports.violations).toEqual([]);
  });
});

describe.runIf(redisAvailable())('dashboard admin pages across nodes on one Redis (a real browser)', () => {
  it('a page on node A shows both nodes and disconnects a client that node B holds', async () => {
    const redis = await RedisProcess.start();
    try {
      const nodes = await startNodes(2, redis.url, { tasks: false });
      servers.push(...nodes);
      const [A, B] = nodes as [RunningServer, RunningServer];
      const onB = await RtClient.connect(`${B.wsUrl}/rt`);
      sockets.push(onB);
      await onB.call('subscribe', { channel: 'chat:cluster' });

      const { page, reports } = await open(A, '/admin/nodes');
      await waitForTrue(page, `${rows('node-rows')}.length === 2`);
      expect(await page.isHidden('#admin-note')).toBe(true);

      await page.click('#nav a[data-view="channels"]');
      const row = '#chan-rows tr[data-channel="chat:cluster"]';
      await waitForTrue(page, `${text(`${row} td[data-label="subscribers"]`)} === '1'`);

      await page.click(`${row} a`);
      await waitForTrue(page, `${rows('conn-rows')}.length === 1`);
      const bNode = await page.getAttribute('#conn-rows tr td[data-label="node"] code', 'title');
      // The page's own /stream socket is on A: the row shown is B's.
      const onA = (await (await fetch(`${A.url}/api/admin/connections?endpoint=stream`)).json()) as {
        connections: { node: string }[];
      };
      expect(onA.connections[0]?.node).toMatch(/.+/);
      expect(bNode).not.toBe(onA.connections[0]?.node);
      await page.selectOption('#close-code', '1012');
      await page.click('#conn-rows tr button');
      expect((await onB.closed).code).toBe(1012);
      await waitForTrue(page, `${rows('conn-rows')}.length === 0`);
      expect(reports.pageErrors).toEqual([]);
      expect(reports.violations).toEqual([]);
    } finally {
      for (const s of servers.splice(0)) await s.close();
      await redis.stop();
    }
  });
});
