import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs once before any test file: builds dist/ when it is missing or older than src/. CLI
 * tests start `node dist/cli/main.js`, and task fixtures import `wirehub/tasks` (which
 * resolves to dist/) the way a user's task module would. `npm test` builds first, so this
 * is a no-op there; it keeps `npx vitest run` honest after editing src/.
 */
export default function setup(): void {
  execFileSync(
    process.execPath,
    [fileURLToPath(new URL('../../scripts/build-if-needed.mjs', import.meta.url))],
    {
      stdio: 'inherit',
    },
  );
}
