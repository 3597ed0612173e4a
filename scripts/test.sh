#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: sets up (Node 24, npm packages, the moto emulator,
# the mail clients), then type-checks, lints and runs every test (vitest). Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh --test
echo "== typecheck" && npx tsc --noEmit -p tsconfig.json && npx tsc --noEmit -p webmail/tsconfig.json
echo "== lint"
npx eslint --max-warnings=0 .
npx prettier --check .
echo "== tests"
results="$(mktemp -t vitest-results.XXXXXX.json)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
# One plain closing line: "N passed, N failed[, N skipped]".
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
rm -f "$results"
exit "$status"
