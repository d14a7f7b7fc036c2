#!/usr/bin/env bash
# RFC 9111 conformance: runs the public http-tests/cache-tests suite against peerweb and each reference proxy
# (nginx, Varnish, Squid, Traffic Server), summarises the results per system and writes docs/conformance.md.
#
#   bash scripts/conformance.sh PATH_TO_CACHE_TESTS_CHECKOUT [--systems nginx,squid,...] [--out FILE]
#
# The suite is not part of this repository: clone https://github.com/http-tests/cache-tests yourself and pass
# its path. Its own server is started on 127.0.0.1 (scripts/conformance/test-server.ts); each proxy is started
# from a generated config in a temp dir, on 127.0.0.1, and stopped by PID (bench/targets.ts). Servers that are
# not installed are reported as not measured; `npm run bench` installs them. peerweb needs `npm run build`.
set -euo pipefail
if [ $# -lt 1 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
checkout=$(cd "$1" && pwd) || { echo "conformance: no such folder: $1" >&2; exit 2; }
shift
cd "$(dirname "$0")/.."

source bench/stop-on-exit.sh
node --import tsx scripts/conformance/run.ts "$checkout" "$@"
