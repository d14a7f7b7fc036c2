#!/usr/bin/env bash
# Installs real programs from Debian, only those that are missing; never starts their system services.
#   bash scripts/install-system-deps.sh                    what the interop tests start (used by `npm test`)
#   bash scripts/install-system-deps.sh BIN=PACKAGE ...    those programs instead (used by `npm run bench`)
# Safe to run again. Needs root (or sudo) and Debian's package archive; without them it says what is
# missing and exits 0 (the tests that need a program skip, the benchmark reports it as not measured).
set -uo pipefail
declare -A want=()
if [ $# -eq 0 ]; then
  want=([squid]=squid [slapd]=slapd [ldapsearch]=ldap-utils [dnsmasq]=dnsmasq [aria2c]=aria2 [unzip]=unzip)
else
  for pair in "$@"; do
    case "$pair" in
      *=*) want[${pair%%=*}]=${pair#*=} ;;
      *) echo "install-system-deps: $pair is not BIN=PACKAGE" >&2; exit 2 ;;
    esac
  done
fi
missing=()
for bin in "${!want[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then missing+=("${want[$bin]}"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-system-deps: not root and no sudo; missing: ${missing[*]}" >&2; exit 0
  fi
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting system services: tests and benchmarks start their own on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
$SUDO apt-get update -qq >/dev/null 2>&1 || true
log=$(mktemp)
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
  || { echo "install-system-deps: apt-get failed:" >&2; tail -5 "$log" >&2; }
rm -f "$log"
[ "${created_policy:-0}" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
