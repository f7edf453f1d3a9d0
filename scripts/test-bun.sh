#!/usr/bin/env bash
# The same vitest suites under Bun: vitest itself runs on `bun --bun`, so the test files, the
# servers they start in process, the CLI they spawn (process.execPath) and the embedded stores
# (bun:sqlite) all run on Bun. WIREHUB_TEST_RUNTIME makes sqlite-driver.test.ts fail if the run
# silently fell back to Node. Pass test files to run others; default: the list below.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN="$(node scripts/bun-path.mjs)"
[ -f dist/cli/main.js ] || npm run build
DEFAULT=(
  # SQLite on bun:sqlite: the seam, the engine and run-store conformance suites, durability
  test/unit/sqlite-driver.test.ts test/unit/engine-conformance.test.ts test/unit/sqlite-engine.test.ts
  test/unit/sqlite-durability.test.ts test/unit/run-store.test.ts test/unit/run-store-prune.test.ts
  # the guide's endpoints, /rt recovery, auth, limits, drain, TLS, heartbeats, slow consumers,
  # tasks in worker threads, the guide's Python client, the dashboard in Chromium
  test/integration/endpoints.test.ts test/integration/rt-recovery.test.ts test/integration/rt-interop.test.ts
  test/integration/rt-protocol.test.ts test/integration/drain.test.ts test/integration/limits.test.ts
  test/integration/heartbeat.test.ts test/integration/slow-consumer.test.ts test/integration/rt-slow-consumer.test.ts
  test/integration/executor-embedded.test.ts test/integration/task-runner.test.ts test/integration/metrics.test.ts
  test/integration/python-client.test.ts test/integration/cli.test.ts
  test/adversarial/auth.test.ts test/adversarial/tls.test.ts test/adversarial/malformed.test.ts
  test/adversarial/hostile-input.test.ts test/browser/dashboard.test.ts
  # HTTP parser refusals in the catalog shape, exit 1 on a start error, damaged store files,
  # the Flyte watch stream across resets
  test/adversarial/http-errors.test.ts test/integration/last-resort.test.ts
  test/integration/store-health.test.ts test/integration/flyte-faults.test.ts
)
if [ "$#" -eq 0 ]; then set -- "${DEFAULT[@]}"; fi
echo "wirehub: vitest under $("$BUN" --version) ($BUN)"
WIREHUB_TEST_RUNTIME=bun exec "$BUN" --bun node_modules/.bin/vitest run -c vitest.bun.config.ts "$@"
