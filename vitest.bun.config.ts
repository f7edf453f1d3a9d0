import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The same suites under Bun: `scripts/test-bun.sh` runs vitest itself with `bun --bun`, so the
 * test files, the servers they start in process and the stores' SQLite (bun:sqlite) all run on Bun.
 * zod is inlined: vitest's loader of external modules under Bun drops zod's `export { z }`
 * (a namespace re-export), so `import { z } from 'zod'` would be undefined.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      server: { deps: { inline: ['zod'] } },
    },
  }),
);
