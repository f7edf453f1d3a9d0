import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../support/server.js';

// Debian's python3-websockets belongs to Debian's interpreter, not whatever python3 is first on PATH.
const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('../../examples/seed_client.py', import.meta.url));

function runClient(uri: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [CLIENT, uri], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

let srv: RunningServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
});

// Required, never skipped: .ci/run installs python3-websockets from Debian.
describe("the seed's Python client (python3-websockets)", () => {
  it('gets the welcome message from /ws', async () => {
    const out = await runClient(`${srv.wsUrl}/ws`);
    const m = /^Received: (.*)$/m.exec(out);
    expect(m).not.toBeNull();
    expect(JSON.parse(m?.[1] ?? '')).toMatchObject({
      type: 'system',
      message: 'Welcome! You are connected.',
    });
  });

  it('gets its message echoed from /echo', async () => {
    expect((await runClient(`${srv.wsUrl}/echo`)).trim()).toBe('Received: Echo: Hello, Server!');
  });
});
