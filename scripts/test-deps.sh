#!/usr/bin/env bash
# Makes sure the system packages the tests use are present (the tests never skip for lack
# of them). As root with apt-get it installs what is missing; otherwise it names the
# packages and fails.
set -euo pipefail

missing=()
/usr/bin/python3 -c 'import websockets' 2>/dev/null || missing+=(python3-websockets)
# The TLS tests make a self-signed certificate with openssl.
command -v openssl >/dev/null || missing+=(openssl)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Clients from another address (test/support/remote-host.ts) live in a network namespace.
command -v ip >/dev/null || missing+=(iproute2)
# The benchmarks' C load generator (bench/support/wsload.c) is built and tested with cc.
command -v cc >/dev/null || missing+=(gcc)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test-deps: installing ${missing[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "test-deps: the tests need these Debian packages: ${missing[*]}" >&2
echo "test-deps: install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
