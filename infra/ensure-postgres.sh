#!/usr/bin/env bash
# Prints a PostgreSQL URL that onair's tests (and a scale-out trial) can create databases with:
# the server on 127.0.0.1:5432 when one answers, otherwise Debian's `postgresql`, installed and
# started here (with a password for the `postgres` role, since Debian's default is peer auth).
set -euo pipefail
cd "$(dirname "$0")/.."

answers() {
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query("select 1")).then(() => c.end()).then(() => process.exit(0), () => process.exit(1));
  ' "$1" >/dev/null 2>&1
}

url="${ONAIR_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if answers "$url"; then echo "$url"; exit 0; fi
with_password="postgres://postgres:onair@127.0.0.1:5432/postgres"
if answers "$with_password"; then echo "$with_password"; exit 0; fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian" >&2
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql >&2
fi
cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
[ -n "$cluster" ] || { echo "no PostgreSQL cluster after installing postgresql" >&2; exit 1; }
# shellcheck disable=SC2086
$SUDO pg_ctlcluster $cluster start >&2 || true
for _ in $(seq 1 30); do
  as_postgres psql -qc "ALTER USER postgres PASSWORD 'onair'" >/dev/null 2>&1 && break
  sleep 1
done
answers "$with_password" || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
echo "$with_password"
