import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { sdkBuildOptions } from '../../scripts/build-web.mjs';

/** The browser SDK's budget: centrifuge-js, the nearest peer, is ~30-40 KB minified. */
const MAX_MINIFIED = 40 * 1024;
const MAX_GZIP = 12 * 1024;

describe('browser SDK size', () => {
  it(`bundles /assets/wirehub-client.js within ${MAX_MINIFIED / 1024} KiB minified and ${MAX_GZIP / 1024} KiB gzipped, without zod`, async () => {
    // The same esbuild options as `npm run build`, in memory.
    const result = await build({ ...sdkBuildOptions, write: false, metafile: true, logLevel: 'silent' });
    const js = (result.outputFiles ?? []).find((f) => f.path.endsWith('/wirehub-client.js'));
    expect(js, 'the bundle').toBeDefined();
    const minified = js?.contents.byteLength ?? Number.POSITIVE_INFINITY;
    const gzipped = js ? gzipSync(js.contents).byteLength : Number.POSITIVE_INFINITY;
    console.log(
      `wirehub-client.js: ${minified} B minified (${(minified / 1024).toFixed(1)} KiB), ${gzipped} B gzip (${(gzipped / 1024).toFixed(1)} KiB)`,
    );
    const fromZod = Object.keys(result.metafile?.inputs ?? {}).filter((path) =>
      path.includes('node_modules/zod/'),
    );
    expect(fromZod, 'zod modules in the browser SDK').toEqual([]);
    expect(minified).toBeLessThanOrEqual(MAX_MINIFIED);
    expect(gzipped).toBeLessThanOrEqual(MAX_GZIP);
  });
});
