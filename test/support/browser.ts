import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';

// Debian's chromium (apt-get install chromium); playwright's own browser download is not used.
const CHROMIUM = '/usr/bin/chromium';

/** A headless Chromium for the browser tests; throws (says what to install) when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** What a page reported about itself: CSP violations, console errors, uncaught exceptions. */
export interface PageReports {
  violations: string[];
  consoleErrors: string[];
  pageErrors: string[];
}

/**
 * Records, from before the first script of every document the page loads, each
 * `securitypolicyviolation` event (as `directive blocked-uri`), each console error and each
 * uncaught exception.
 */
export async function watchPage(page: Page): Promise<PageReports> {
  const reports: PageReports = { violations: [], consoleErrors: [], pageErrors: [] };
  await page.exposeBinding('__wirehubCspViolation', (_source, text: string) => {
    reports.violations.push(text);
  });
  await page.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => window.__wirehubCspViolation(e.effectiveDirective + ' ' + e.blockedURI));",
  );
  page.on('console', (m) => {
    if (m.type() === 'error') reports.consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => reports.pageErrors.push(err.message));
  return reports;
}

/**
 * Waits until `expression` holds in the page, asked from the test every 50 ms. (Playwright's
 * `waitForFunction` compiles its predicate inside the page, which the pages' CSP refuses:
 * no 'unsafe-eval'. `page.evaluate` goes through the debugger protocol, which CSP does not
 * govern.) Headless pages may not paint, so no requestAnimationFrame either.
 */
export async function waitForTrue(page: Page, expression: string, timeoutMs = 15_000): Promise<void> {
  await expect
    .poll(() => page.evaluate(expression).catch(() => false), {
      interval: 50,
      timeout: timeoutMs,
      message: `waiting for ${expression}`,
    })
    .toBeTruthy();
}
