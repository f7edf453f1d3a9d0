// Builds the browser assets into dist/web/: the client SDK as one ES module (no zod),
// served at /assets/wirehub-client.js, and the dashboard's script, which imports the SDK
// from that URL instead of bundling a second copy. `npm run build` runs it.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const outdir = join(root, 'dist/web');

/** The dashboard imports the SDK from its source (for types); in the browser it is the served bundle. */
const sdkFromServer = {
  name: 'sdk-from-server',
  setup(b) {
    b.onResolve({ filter: /\/src\/client\/index\.js$/ }, () => ({
      path: '/assets/wirehub-client.js',
      external: true,
    }));
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
  outdir,
};

/**
 * The SDK bundle, from its zod-free entry. test/unit/sdk-size.test.ts builds it with these
 * same options to hold it to its size budget.
 */
export const sdkBuildOptions = { ...common, entryPoints: { 'wirehub-client': 'src/client/browser.ts' } };

export async function buildWeb() {
  await build(sdkBuildOptions);
  await build({ ...common, entryPoints: { dashboard: 'web/dashboard/main.ts' }, plugins: [sdkFromServer] });
  for (const name of ['wirehub-client.js', 'dashboard.js']) {
    const kib = (statSync(join(outdir, name)).size / 1024).toFixed(1);
    console.error(`wirehub: built dist/web/${name} (${kib} KiB)`);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await buildWeb();
