#!/usr/bin/env bash
# `npm run bench [-- options]`: peerweb against nginx, Varnish, Squid and Traffic Server on this machine.
# Installs the missing servers and wrk from Debian (never starts their system services), builds peerweb,
# raises the open-file limit, and runs bench/compare.ts, which writes docs/benchmarks.md (it compiles the
# large-read client bench/bigload.c with cc into bench/out/ on first use).
# Options are passed to bench/compare.ts: --systems nginx,varnish,squid,trafficserver,peerweb --rounds 3
# --seconds 10 --warmup 2 --crowd 500 --crowd-rounds 3 --idle 10000 --out FILE
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A want=([nginx]=nginx [varnishd]=varnish [squid]=squid [traffic_server]=trafficserver [wrk]=wrk [taskset]=util-linux)
missing=()
for bin in "${!want[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then missing+=("${want[$bin]}"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "bench: not root and no sudo; missing: ${missing[*]} (those systems will be reported as not measured)" >&2
    fi
  fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "bench: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Keep package scripts from starting system services: the benchmark starts its own, on loopback.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
      created_policy=1
    fi
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    log=$(mktemp)
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
      || { echo "bench: apt-get failed:" >&2; tail -5 "$log" >&2; }
    rm -f "$log"
    [ "${created_policy:-0}" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  fi
fi

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
