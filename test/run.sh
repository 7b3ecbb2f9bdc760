#!/usr/bin/env bash
# `npm test`: the suite on the embedded defaults (SQLite, local disk) and on the scale-out engines
# (PostgreSQL, S3-compatible storage), ending with one "N passed, N failed" line over both.
# The two runs go side by side (most tests wait on real time: live streams, lock expiry); set
# ONAIR_TEST_SEQUENTIAL=1 to run them one after the other. Some files run in one of them only
# (see FIRST_ONLY and SECOND_ONLY below).
# PostgreSQL: the one on 127.0.0.1:5432 when it answers, otherwise Debian's, installed and started
# by infra/ensure-postgres.sh. Extra arguments go to vitest (a file, -t NAME).
set -uo pipefail
cd "$(dirname "$0")/.."

ONAIR_TEST_PG_URL=$(bash infra/ensure-postgres.sh) || { echo "0 passed, 1 failed (no PostgreSQL)"; exit 1; }
export ONAIR_TEST_PG_URL
# The AWS SDK warns, once per process, that its 2027 releases need Node 22; onair pins a 2026
# release (see ../shared/ENVIRONMENT.md), and the warning buried the test output.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

# Files that run in one of the two runs only, so that both take about as long:
# - the pure unit tests and the SRT gatekeeper's and WHIP server's own (they touch neither engine),
#   and the browser tests, whose API runs on both
#   engines in the integration files (team, tus-uploads, i18n, schedule-preview, viewer-gate, ...),
#   run on SQLite + local disk;
# - the files that test both engines within themselves run in the PostgreSQL + S3 run.
FIRST_ONLY=(
  'test/unit/**'
  'test/e2e/**'
  test/integration/srt-gatekeeper.test.ts
  test/integration/whip-ingest.test.ts
)
SECOND_ONLY=(
  test/integration/scale-out.test.ts
  test/integration/postgres.test.ts
  test/integration/storage.test.ts
  test/integration/origin-storage.test.ts
  test/integration/live-fencing.test.ts
  test/integration/abandoned-uploads.test.ts
  test/integration/edge.test.ts
  # SRT through the whole server: its bridge does not touch storage or the database.
  test/integration/live-srt.test.ts
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
  env "${vars[@]}" npx vitest run --passWithNoTests --reporter=default --reporter=json --outputFile.json="$logs/$index.json" "$@" \
    >"$logs/$index.log" 2>&1
}
first_excludes=()
for f in "${SECOND_ONLY[@]}"; do first_excludes+=(--exclude "$f"); done
second_excludes=()
for f in "${FIRST_ONLY[@]}"; do second_excludes+=(--exclude "$f"); done

start=$(date +%s)
run_suite 0 ONAIR_TEST_DATABASE=sqlite ONAIR_TEST_STORAGE=local -- "${first_excludes[@]}" "$@" &
pids+=($!)
[ "${ONAIR_TEST_SEQUENTIAL:-}" = 1 ] && wait "${pids[0]}"
# The fuzz's random inputs are the same on both engines: half as many on the second (each request
# there snapshots PostgreSQL and the bucket), the examples that once broke a route in full.
run_suite 1 ONAIR_TEST_DATABASE=postgres ONAIR_TEST_STORAGE=s3 FUZZ_RUNS="${FUZZ_RUNS:-15}" -- "${second_excludes[@]}" "$@" &
pids+=($!)
status=0
for i in 0 1; do
  wait "${pids[$i]}"
  code=$?
  echo "$code" >"$logs/$i.status"
  [ "$code" = 0 ] || status=1
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
    // Vitest fails a run with unhandled errors (say, a rejection after a test) while every test
    // passed: that run counts as one failure, so the last line never says 0 failed when CI fails.
    const code = Number(fs.readFileSync(`${dir}/${i}.status`, "utf8"));
    const f = r.numFailedTests || (code === 0 ? 0 : 1);
    const why = f > r.numFailedTests ? ` (vitest exited ${code} with every test passed: see its "Errors" above)` : "";
    console.log(`${name}: ${r.numPassedTests} passed, ${f} failed` + (s ? `, ${s} skipped` : "") + why);
    passed += r.numPassedTests; failed += f; skipped += s;
  });
  console.log(`both runs took ${seconds} s`);
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$logs" "$(($(date +%s) - start))" "${names[@]}"
rm -rf "$logs"
exit $status
