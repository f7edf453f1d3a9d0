import { execFile as execFileCb } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { tempDir } from '../support/server.js';

const execFile = promisify(execFileCb);

/**
 * Every module a fresh Node process loads while it imports `entry` (from the built dist/),
 * as the module loader resolves them: a resolve hook (module.register) writes each resolved
 * URL to a file, whatever the module's kind (ESM or CommonJS imported from ESM).
 */
async function modulesLoadedBy(entry: string): Promise<string[]> {
  const dir = tempDir();
  const log = join(dir, 'resolved.txt');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, result.url + '\\n');
  return result;
}
`,
  );
  writeFileSync(log, '');
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  await execFile(
    process.execPath,
    [
      '--import',
      pathToFileURL(register).href,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(pathToFileURL(join(ROOT, entry)).href)});`,
    ],
    { cwd: ROOT, timeout: 30_000 },
  );
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

const fromPackage = (urls: string[], name: string) =>
  urls.filter((u) => u.includes(`/node_modules/${name}/`));

describe('Redis and BullMQ load only when asked for', () => {
  it("import('wirehub') loads neither ioredis nor bullmq", async () => {
    const urls = await modulesLoadedBy('dist/index.js');
    // Not blind: the server's own modules and packages were seen.
    expect(urls.some((u) => u.endsWith('/dist/runtime/create-server.js'))).toBe(true);
    expect(fromPackage(urls, 'fastify').length).toBeGreaterThan(0);
    expect(fromPackage(urls, 'ioredis')).toEqual([]);
    expect(fromPackage(urls, 'bullmq')).toEqual([]);
    expect(urls.filter((u) => u.endsWith('/dist/runtime/redis-backends.js'))).toEqual([]);
  }, 60_000);

  it("import('wirehub/redis') loads them (the check sees them when they are there)", async () => {
    const urls = await modulesLoadedBy('dist/redis.js');
    expect(fromPackage(urls, 'ioredis').length).toBeGreaterThan(0);
    expect(fromPackage(urls, 'bullmq').length).toBeGreaterThan(0);
  }, 60_000);
});
