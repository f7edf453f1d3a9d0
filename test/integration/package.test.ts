import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForTrue } from '../support/browser.js';
import { type CliServer, ROOT, startCliServer } from '../support/cli.js';
import { eventually } from '../support/cluster.js';
import { tempDir } from '../support/server.js';

const execFile = promisify(execFileCb);
const PYTHON = '/usr/bin/python3';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * What a user gets from the registry: `npm pack` of a clean checkout (prepack builds dist/),
 * installed into an empty folder, then `npx wirehub serve` with the guide's Python client and
 * the dashboard in Chromium. The checkout is a copy of the files git tracks, so neither this
 * tree's dist/ (other tests run it) nor anything untracked can make the package look complete.
 */

let tarball: string;
let files: string[];
let app: string;
let srv: CliServer | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  const checkout = tempDir();
  const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0');
  for (const file of tracked.filter((f) => f !== '')) {
    mkdirSync(join(checkout, file, '..'), { recursive: true });
    cpSync(join(ROOT, file), join(checkout, file));
  }
  // The dependencies are this tree's (npm ci ran); the build output is not copied.
  symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
  const packDir = tempDir();
  const { stdout } = await execFile(npm, ['pack', '--json', '--pack-destination', packDir], {
    cwd: checkout,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  if (!packed) throw new Error(`npm pack printed no package:\n${stdout}`);
  tarball = join(packDir, packed.filename);
  files = packed.files.map((f) => f.path);

  app = tempDir();
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'wirehub-user', private: true }));
  // From npm's cache where it can: the same registry packages `npm ci` just installed.
  await execFile(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
    cwd: app,
    maxBuffer: 64 * 1024 * 1024,
  });
}, 600_000);

/** Whether any process of group `pgid` is still alive (signal 0 only checks). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  await browser?.close();
  // A test that failed before the last one stopped the group: nothing must outlive the file.
  const pgid = srv?.child.pid;
  if (pgid !== undefined && groupAlive(pgid)) {
    process.kill(-pgid, 'SIGKILL');
    await srv?.exited;
  }
});

describe('the published package', () => {
  it('ships the built server, CLI, browser assets and docs; no source maps, no TypeScript sources', () => {
    for (const file of [
      'dist/cli/main.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/web/wirehub-client.js',
      // The Redis backends, a subpath of their own (the root import does not load them).
      'dist/redis.js',
      'dist/redis.d.ts',
      // The Flyte executor and the protocol definitions it uses, compiled (no TS loader at run time).
      'dist/tasks/executors/flyte/index.js',
      'dist/tasks/executors/flyte/gen/flyteidl2/workflow/run_service_pb.js',
    ]) {
      expect(files, file).toContain(file);
    }
    // Every file the server reads from web/: pages, their scripts and styles, the icons.
    for (const file of [
      'web/index.html',
      'web/run.html',
      'web/run.js',
      'web/404.html',
      'web/favicon.svg',
      'web/favicon.ico',
      'web/docs-theme.js',
      'web/docs-theme.css',
    ]) {
      expect(files, file).toContain(file);
    }
    expect(files).toContain('README.md');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('src/') || /^web\/.*\.ts$/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('resolves the wirehub/redis subpath from an installed package', async () => {
    const { stdout } = await execFile(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const r = await import('wirehub/redis'); const root = await import('wirehub'); console.log(typeof r.RedisEngine, typeof r.RedisRunStore, typeof r.BullmqExecutor, 'RedisEngine' in root)",
      ],
      { cwd: app },
    );
    expect(stdout.trim()).toBe('function function function false');
  });

  it('installs into an empty folder, and `npx wirehub serve` serves the guide and the dashboard', async () => {
    expect(readdirSync(join(app, 'node_modules/.bin'))).toContain('wirehub');
    srv = await startCliServer(
      [],
      {},
      [npm, 'exec', '--', 'wirehub', 'serve', '--port', '0', '--data-dir', join(app, 'data')],
      // npm exec starts the server as a child of its own: its own group lets the test stop both.
      { cwd: app, detached: true },
    );

    const ws = await execFile(PYTHON, [join(ROOT, 'examples/seed_client.py'), `${srv.wsUrl}/ws`], {
      timeout: 20_000,
    });
    expect(ws.stdout).toContain('"message":"Welcome! You are connected."');
    const echo = await execFile(PYTHON, [join(ROOT, 'examples/seed_client.py'), `${srv.wsUrl}/echo`], {
      timeout: 20_000,
    });
    expect(echo.stdout.trim()).toBe('Received: Echo: Hello, Server!');

    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${srv.url}/`);
    // Polled from the test: waitForFunction would compile its predicate in the page, which
    // the dashboard's CSP (no 'unsafe-eval') refuses.
    await waitForTrue(page, "document.getElementById('conn-state')?.textContent === 'connected'");
    await waitForTrue(page, "document.querySelectorAll('#task-select option').length >= 4");
    expect(errors).toEqual([]);
  });

  it('SIGTERM to the process group stops npx and the server it started: nothing is left', async () => {
    const running = srv;
    const pgid = running?.child.pid;
    if (!running || pgid === undefined) throw new Error('the server did not start');
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    process.kill(-pgid, 'SIGTERM');
    await running.exited;
    // npm may exit before the server it started has drained: wait for the whole group.
    await eventually('every process of the group to exit', async () => !groupAlive(pgid), 20_000);
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });
});
