#!/usr/bin/env bash
# Installs the real servers the interop tests start (from Debian), only those that are missing.
# Used by `npm test`; safe to run again. Needs root (or sudo) and Debian's package archive.
set -uo pipefail
declare -A want=(
  [squid]=squid
  [slapd]=slapd
  [ldapsearch]=ldap-utils
  [dnsmasq]=dnsmasq
  [aria2c]=aria2
  [unzip]=unzip
)
missing=()
for bin in "${!want[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then missing+=("${want[$bin]}"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-system-deps: not root and no sudo; missing: ${missing[*]} (their interop tests will skip)" >&2; exit 0
  fi
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting system services: tests start their own on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
$SUDO apt-get update -qq >/dev/null 2>&1 || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/peerweb-apt.log 2>&1 \
  || { echo "install-system-deps: apt-get failed, see /tmp/peerweb-apt.log" >&2; tail -5 /tmp/peerweb-apt.log >&2; }
[ "${created_policy:-0}" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
