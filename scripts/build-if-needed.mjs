// `npm start` runs this first: build dist/ when it is missing or older than any source file,
// and the browser assets (dist/web/) when they are older than the client, protocol or dashboard.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function newest(dir) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** True when `target` is missing or older than the newest file under any of `sources`. */
function stale(target, sources) {
  if (!existsSync(target)) return true;
  const built = statSync(target).mtimeMs;
  return sources.some((dir) => newest(join(root, dir)) > built);
}

// The Flyte protocol definitions are copied into src/ (git-ignored) before tsc compiles src/.
const { generateFlyteIdl } = await import('./flyte-idl.mjs');
generateFlyteIdl();

if (stale(join(root, 'dist/cli/main.js'), ['src'])) {
  console.error('wirehub: building dist/ …');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
}

const webSources = ['src/client', 'src/protocol', 'web/dashboard'];
const webTargets = ['dist/web/wirehub-client.js', 'dist/web/dashboard.js'];
if (webTargets.some((t) => stale(join(root, t), webSources))) {
  const { buildWeb } = await import('./build-web.mjs');
  await buildWeb();
}
