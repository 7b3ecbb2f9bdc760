#!/usr/bin/env bash
# `npm test`: the whole suite twice -- on the embedded defaults (SQLite, local disk) and on the
# scale-out engines (PostgreSQL, S3-compatible storage) -- ending with one "N passed, N failed"
# line over both. PostgreSQL: the one on 127.0.0.1:5432 when it answers, otherwise Debian's,
# installed and started by infra/ensure-postgres.sh. Extra arguments go to vitest (a file, -t NAME).
set -uo pipefail
cd "$(dirname "$0")/.."

ONAIR_TEST_PG_URL=$(bash infra/ensure-postgres.sh) || { echo "0 passed, 1 failed (no PostgreSQL)"; exit 1; }
export ONAIR_TEST_PG_URL

reports=()
status=0
run_suite() {
  local name=$1
  shift
  local report
  report=$(mktemp)
  reports+=("$name=$report")
  echo "== tests on $name =="
  env "$@" npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "${ARGS[@]}" || status=1
}
ARGS=("$@")
run_suite "SQLite + local storage" ONAIR_TEST_DATABASE=sqlite ONAIR_TEST_STORAGE=local
run_suite "PostgreSQL + S3" ONAIR_TEST_DATABASE=postgres ONAIR_TEST_STORAGE=s3

node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const arg of process.argv.slice(1)) {
    const [name, file] = arg.split(/=(?=[^=]*$)/);
    if (!fs.existsSync(file) || fs.statSync(file).size === 0) { console.log(`${name}: no report`); failed += 1; continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    const s = r.numPendingTests + r.numTodoTests;
    console.log(`${name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (s ? `, ${s} skipped` : ""));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += s;
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "${reports[@]}"
exit $status
