import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliServer, runCli, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { tempDir } from '../support/server.js';

/** Writes a config file and returns its path. */
function configFile(content: unknown): string {
  const file = join(tempDir(), 'wirehub.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Sends 2 KiB to /echo: the answer, or the close code when it is over --max-payload. */
async function echo2KiB(server: CliServer): Promise<string | number> {
  const client = await TestClient.connect(`${server.wsUrl}/echo`);
  await client.send('x'.repeat(2048));
  const outcome = await Promise.race([
    client.nextText().then((t) => t.length),
    client.closed.then((c) => c.code),
  ]);
  client.ws.terminate();
  return outcome === 2048 + 'Echo: '.length ? 'echoed' : outcome;
}

describe('wirehub serve --config', () => {
  const servers: CliServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  });
  const serve = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const s = await startCliServer(args, env);
    servers.push(s);
    return s;
  };

  it('takes values from the file where no flag or variable sets them: flags > env > file > defaults', async () => {
    const dataDir = tempDir();
    const file = configFile({ 'data-dir': dataDir, maxPayload: '1KiB', 'log-level': 'info' });
    // The file alone: its data dir and its 1 KiB limit (the default is 64 KiB).
    const fromFile = await serve(['--config', file]);
    expect(await echo2KiB(fromFile)).toBe(1009);
    expect(existsSync(join(dataDir, 'channels.db'))).toBe(true);
    // The environment wins over the file...
    const fromEnv = await serve([], { WIREHUB_CONFIG: file, WIREHUB_MAX_PAYLOAD: '4KiB' });
    expect(await echo2KiB(fromEnv)).toBe('echoed');
    // ...and a flag over the environment.
    const fromFlag = await serve(['--config', file, '--max-payload', '1KiB'], {
      WIREHUB_MAX_PAYLOAD: '4KiB',
    });
    expect(await echo2KiB(fromFlag)).toBe(1009);
  });

  it('takes lists for repeatable flags and true/false for switches', async () => {
    const keys = ['first-key-for-the-config-test-0123', 'second-key-for-the-config-test-456'];
    const s = await serve(['--config', configFile({ 'api-key': keys, 'public-metrics': true })]);
    for (const key of keys) {
      const res = await fetch(`${s.url}/api/tasks`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
    }
    expect((await fetch(`${s.url}/api/tasks`)).status).toBe(401);
    expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
  });

  it('refuses a bad file with exit 2 and a message naming the file and the key', async () => {
    const cases: [unknown, RegExp][] = [
      [{ prot: 8080 }, /unknown key "prot"; the keys are the flags of this command: host, port/],
      [{ port: 'eighty' }, /"port": expected a port number/],
      [{ port: [1, 2] }, /"port" takes one value, not a list/],
      [{ 'public-metrics': 'yes' }, /"public-metrics" must be true or false/],
      [{ 'max-payload': { size: 1 } }, /"max-payload" must be a string or a number/],
      ['{"port": 80', /is not valid JSON/],
      [[8080], /must hold a JSON object of flag values/],
    ];
    await Promise.all(
      cases.map(async ([content, message]) => {
        const file = configFile(content);
        const { code, stderr } = await runCli(['serve', '--port', '0', '--config', file]);
        expect(code, String(message)).toBe(2);
        expect(stderr).toContain(file);
        expect(stderr).toMatch(message);
      }),
    );
    const missing = await runCli(['serve', '--config', join(tempDir(), 'absent.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the config file .*absent\.json: ENOENT/);
    // Eight CLI processes at once: on a loaded machine this takes longer than the default 30 s budget.
  }, 90_000);

  it('works for wirehub worker too', async () => {
    const { code, stderr } = await runCli(['worker', '--config', configFile({ concurency: 2 })]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown key "concurency"; the keys are the flags of this command: .*concurrency/);
  });
});
