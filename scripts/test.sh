#!/usr/bin/env bash
# The whole suite: system deps for interop tests, type check, then node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npx tsc --noEmit -p .
files=$(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 $files
