#!/usr/bin/env bash
# `npm test`: the suite on the embedded defaults (SQLite, local disk) and on the scale-out engines
# (PostgreSQL, S3-compatible storage), ending with one "N passed, N failed" line over both.
# The two runs go side by side (most tests wait on real time: live streams, lock expiry); set
# ONAIR_TEST_SEQUENTIAL=1 to run them one after the other. Files that test both backends within
# themselves (and the pure unit tests, which touch neither) run once, in the first run.
# PostgreSQL: the one on 127.0.0.1:5432 when it answers, otherwise Debian's, installed and started
# by infra/ensure-postgres.sh. Extra arguments go to vitest (a file, -t NAME).
set -uo pipefail
cd "$(dirname "$0")/.."

ONAIR_TEST_PG_URL=$(bash infra/ensure-postgres.sh) || { echo "0 passed, 1 failed (no PostgreSQL)"; exit 1; }
export ONAIR_TEST_PG_URL

ONCE=(
  'test/unit/**'
  test/integration/scale-out.test.ts
  test/integration/postgres.test.ts
  test/integration/storage.test.ts
  test/integration/origin-storage.test.ts
  test/integration/live-fencing.test.ts
  test/integration/abandoned-uploads.test.ts
)
logs=$(mktemp -d)
names=("SQLite + local storage" "PostgreSQL + S3")
pids=()
# run_suite INDEX VAR=value... -- vitest arguments
run_suite() {
  local index=$1
  shift
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  env "${vars[@]}" npx vitest run --reporter=default --reporter=json --outputFile.json="$logs/$index.json" "$@" \
    >"$logs/$index.log" 2>&1
}
excludes=()
for f in "${ONCE[@]}"; do excludes+=(--exclude "$f"); done

start=$(date +%s)
run_suite 0 ONAIR_TEST_DATABASE=sqlite ONAIR_TEST_STORAGE=local -- "$@" &
pids+=($!)
[ "${ONAIR_TEST_SEQUENTIAL:-}" = 1 ] && wait "${pids[0]}"
run_suite 1 ONAIR_TEST_DATABASE=postgres ONAIR_TEST_STORAGE=s3 -- "${excludes[@]}" "$@" &
pids+=($!)
status=0
for i in 0 1; do
  wait "${pids[$i]}" || status=1
  echo "== tests on ${names[$i]} =="
  cat "$logs/$i.log"
done

node -e '
  const fs = require("fs");
  const [dir, seconds, ...names] = process.argv.slice(1);
  let passed = 0, failed = 0, skipped = 0;
  names.forEach((name, i) => {
    const file = `${dir}/${i}.json`;
    if (!fs.existsSync(file) || fs.statSync(file).size === 0) { console.log(`${name}: no report`); failed += 1; return; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    const s = r.numPendingTests + r.numTodoTests;
    console.log(`${name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (s ? `, ${s} skipped` : ""));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += s;
  });
  console.log(`both runs took ${seconds} s`);
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$logs" "$(($(date +%s) - start))" "${names[@]}"
rm -rf "$logs"
exit $status
