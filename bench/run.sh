#!/usr/bin/env bash
# `npm run bench [-- options]`: peerweb against nginx, Varnish, Squid and Traffic Server on this machine.
# Installs the missing servers and wrk from Debian (never starts their system services), builds peerweb,
# raises the open-file limit, and runs bench/compare.ts, which writes docs/benchmarks.md (it compiles the
# large-read client bench/bigload.c with cc into bench/out/ on first use).
# Options are passed to bench/compare.ts: --systems nginx,varnish,squid,trafficserver,peerweb --rounds 3
# --seconds 10 --warmup 2 --crowd 500 --crowd-rounds 3 --idle 10000 --out FILE
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh nginx=nginx varnishd=varnish squid=squid traffic_server=trafficserver wrk=wrk taskset=util-linux

if [ "$(nproc)" -lt 2 ]; then
  echo "bench: needs 2 cores (servers on core 0, load on core 1); found $(nproc)" >&2
  exit 1
fi

# 10,000 idle connections need as many descriptors in the client and in each server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
  echo "bench: open-file limit is $(ulimit -n); the idle-connection scenario needs about 12000" >&2
fi

if ! npm run --silent build >/dev/null 2>&1; then
  echo "bench: npm run build failed; peerweb will be reported as not measured if dist/ is missing" >&2
fi


source bench/stop-on-exit.sh
taskset -c 1 node --import tsx bench/compare.ts "$@"
