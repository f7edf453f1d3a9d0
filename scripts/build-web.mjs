// Builds the browser assets into dist/web/: the client SDK as one ES module (with zod, jitless),
// served at /assets/wirehub-client.js, and the dashboard's script, which imports the SDK
// from that URL instead of bundling a second copy. `npm run build` runs it.
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/**
 * zod re-exports all of its ~50 error-message locales as a namespace, which no bundler can
 * shake out (260 KiB of the bundle). wirehub uses only English, which zod imports by itself,
 * so the namespace becomes English only.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/')
        ? { path: join(dirname(args.importer), '../locales/en.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
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

export async function buildWeb() {
  await build({
    ...common,
    entryPoints: { 'wirehub-client': 'web/sdk/wirehub-client.ts' },
    plugins: [zodEnglishOnly],
  });
  await build({ ...common, entryPoints: { dashboard: 'web/dashboard/main.ts' }, plugins: [sdkFromServer] });
  for (const name of ['wirehub-client.js', 'dashboard.js']) {
    const kib = (statSync(join(outdir, name)).size / 1024).toFixed(1);
    console.error(`wirehub: built dist/web/${name} (${kib} KiB)`);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await buildWeb();
