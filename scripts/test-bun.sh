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
  test/integration/heartbeat.test.ts test/integration/rt-slow-consumer.test.ts
  # fan-out through Bun's topics: taken when it should be, and every per-subscriber rule kept
  test/integration/fanout-groups.test.ts test/unit/hub-fanout.test.ts
  test/integration/executor-embedded.test.ts test/integration/task-runner.test.ts test/integration/metrics.test.ts
  test/integration/python-client.test.ts test/integration/cli.test.ts test/integration/transport.test.ts
  test/adversarial/auth.test.ts test/adversarial/tls.test.ts test/adversarial/malformed.test.ts
  test/adversarial/hostile-input.test.ts test/browser/dashboard.test.ts
  # exit 1 on a start error, damaged store files, the Flyte watch stream across resets
  test/integration/last-resort.test.ts test/integration/store-health.test.ts
  test/integration/flyte-faults.test.ts
  # serve --workers: each worker binds the port itself (SO_REUSEPORT), the kernel spreads clients
  test/integration/serve-workers.test.ts
)
# Under Bun the server runs on Bun's native server (Bun.serve, uWebSockets). These files pin
# what Node's HTTP parser and the `ws` library do around wirehub's code (malformed requests
# and timeouts answered in the catalog shape; a 30 s closing handshake, so a client that
# stopped reading still gets its 4008 once it reads); Bun does those its own way (see
# docs/bun.md), so they run on the Node-compatible server under Bun (WIREHUB_TRANSPORT=node).
COMPAT=(test/adversarial/http-errors.test.ts test/integration/slow-consumer.test.ts)
echo "wirehub: vitest under $("$BUN" --version) ($BUN)"
run() { WIREHUB_TEST_RUNTIME=bun "$BUN" --bun node_modules/.bin/vitest run -c vitest.bun.config.ts "$@"; }
if [ "$#" -gt 0 ]; then run "$@"; exit; fi
run "${DEFAULT[@]}"
echo "wirehub: on Bun's Node-compatible server (WIREHUB_TRANSPORT=node)"
WIREHUB_TRANSPORT=node run "${COMPAT[@]}"
