#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: sets up (Node 24, npm packages, the moto emulator,
# the mail clients), then type-checks, lints and runs every test (vitest). Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh --test
echo "== typecheck" && npx tsc --noEmit -p tsconfig.json
echo "== lint" && npx eslint --max-warnings=0 .
echo "== tests" && npx vitest run "$@"
