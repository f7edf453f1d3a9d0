import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, PAGE } from '../../src/index.js';
import { launchChromium, type PageReports, waitForTrue, watchPage } from '../support/browser.js';
import { http } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';

/**
 * Every page works under its Content-Security-Policy in a real browser, with no violation
 * reported, and no other site can frame them.
 */

let srv: RunningServer;
let browser: Browser;
let runId: string;

beforeAll(async () => {
  srv = await startServer({ tasks: { poolSize: 1 } });
  browser = await launchChromium();
  const started = await fetch(`${srv.url}/api/runs/demo/development/word-count/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'one two two' }),
  });
  runId = ((await started.json()) as { run_id: string }).run_id;
  await srv.server.tasks?.runs.waitForEnd(runId);
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

async function visit(path: string, check: (page: Page) => Promise<void>): Promise<PageReports> {
  const page = await browser.newPage();
  try {
    const reports = await watchPage(page);
    const response = await page.goto(`${srv.url}${path}`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    await check(page);
    return reports;
  } finally {
    await page.close();
  }
}

const noReports = { violations: [], consoleErrors: [], pageErrors: [] };

describe('pages under their CSP (a real browser)', () => {
  it('the dashboard connects, charts /stream and lists tasks with zero violations', async () => {
    const reports = await visit('/', async (page) => {
      await waitForTrue(page, "document.getElementById('conn-state').textContent === 'connected'");
      await waitForTrue(page, "Number(document.getElementById('stream-count').textContent) >= 2");
      await waitForTrue(page, "document.querySelectorAll('#task-select option').length >= 4");
      await waitForTrue(page, "document.getElementById('status-rtt').textContent.endsWith('ms')");
    });
    expect(reports).toEqual(noReports);
  });

  it('the run page reads the run over the API and /task-runner with zero violations', async () => {
    const reports = await visit(`/runs/${runId}`, async (page) => {
      await waitForTrue(page, "document.getElementById('status').textContent === 'SUCCEEDED'");
      await waitForTrue(page, "document.getElementById('conn').textContent === 'run ended'");
      expect(JSON.parse((await page.textContent('#outputs')) ?? '')).toMatchObject({ total: 3 });
      // The stylesheet applied: the status badge is coloured.
      expect(
        await page.evaluate("getComputedStyle(document.getElementById('status')).borderRadius"),
      ).not.toBe('0px');
    });
    expect(reports).toEqual(noReports);
  });

  it('Swagger UI at /docs renders the document with zero violations', async () => {
    const reports = await visit('/docs', async (page) => {
      await page.waitForSelector('.opblock-summary-path[data-path="/api/publish"]', { timeout: 15_000 });
      // Expanding an operation draws its schemas (icons, models) too.
      await page.click('.opblock-summary-path[data-path="/api/publish"]');
      await page.waitForSelector('.opblock-body', { timeout: 15_000 });
    });
    expect(reports).toEqual(noReports);
  });
});

describe('framing', () => {
  let other: Server;
  let otherUrl: string;

  beforeAll(async () => {
    // Another origin (another host name for this machine) whose page frames ours.
    other = createHttpServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><iframe id="victim" src="${target.replace(/"/g, '')}"></iframe>`);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.2', resolve));
    otherUrl = `http://127.0.0.2:${(other.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => other.close(resolve));
  });

  it('a page on another origin cannot frame the run page, the dashboard or /docs', async () => {
    for (const path of [`/runs/${runId}`, '/', '/docs']) {
      const page = await browser.newPage();
      try {
        const refusals: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') refusals.push(m.text());
        });
        const framed = page.waitForEvent('framenavigated', {
          predicate: (f) => f !== page.mainFrame(),
          timeout: 15_000,
        });
        await page.goto(`${otherUrl}/?src=${encodeURIComponent(`${srv.url}${path}`)}`);
        const frame = await framed;
        await frame.waitForLoadState('load');
        // Chromium shows its error page instead: none of ours is in the frame.
        expect(frame.url(), path).toMatch(/^chrome-error:/);
        expect(await frame.$('#cancel'), path).toBeNull();
        expect(refusals.join('\n'), path).toContain("frame-ancestors 'none'");
      } finally {
        await page.close();
      }
    }
  });
});

describe('headers on every answer', () => {
  it('nosniff and no-referrer on the API, errors and assets; the CSP names only well-formed hosts', async () => {
    for (const path of [
      '/api/runs',
      '/api/nope',
      '/healthz',
      '/assets/run.js',
      '/docs/json',
      '/api/runs/%',
    ]) {
      const a = await http(`${srv.url}${path}`);
      expect(a.headers['x-content-type-options'], path).toBe('nosniff');
      if (path.includes('%')) continue; // a router error: no hook ran, nosniff is all it needs
      expect(a.headers['referrer-policy'], path).toBe('no-referrer');
      // Not a page: a CSP under which, opened as a document, it runs nothing and cannot be framed.
      expect(a.headers['content-security-policy'], path).toBe("default-src 'none'; frame-ancestors 'none'");
    }
    const page = await http(`${srv.url}/`);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['strict-transport-security']).toBeUndefined();
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${srv.port} wss://127.0.0.1:${srv.port}`);
    expect(csp).not.toContain('upgrade-insecure-requests');
    // A Host that could end the directive is not copied into it.
    const odd = await http(`${srv.url}/`, { headers: { host: "evil.example; script-src 'unsafe-inline'" } });
    expect(String(odd.headers['content-security-policy'])).not.toContain('unsafe-inline');
    expect(String(odd.headers['content-security-policy'])).not.toContain('evil');
  });
});

describe('a page of your own', () => {
  it('gets the pages’ policy with the PAGE route options, the fixed set without', async () => {
    const server = await createServer({ port: 0, logLevel: 'silent', dataDir: tempDir(), tasks: false });
    const html = '<!doctype html><title>mine</title><script src="/mine.js"></script>';
    server.http.get('/mine', { ...PAGE }, async (_req, reply) => reply.type('text/html').send(html));
    server.http.get('/plain', async (_req, reply) => reply.type('text/html').send(html));
    const { url } = await server.listen();
    try {
      const mine = await http(`${url}/mine`);
      expect(mine.headers['content-security-policy']).toContain("script-src 'self'");
      expect(mine.headers['x-frame-options']).toBe('DENY');
      const plain = await http(`${url}/plain`);
      expect(plain.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    } finally {
      await server.close();
    }
  });
});
