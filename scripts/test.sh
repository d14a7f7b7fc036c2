#!/usr/bin/env bash
# The whole suite: system deps for interop tests, type check, then node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npx tsc --noEmit -p .
# dist/ is what `npm start` and the bin run: keep it current for the tests that start real processes.
npx tsc -p tsconfig.build.json
files=$(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 $files
