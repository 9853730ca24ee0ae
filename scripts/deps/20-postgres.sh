#!/usr/bin/env bash
# PostgreSQL 15 server binaries for the postgres store tests
# (internal/testsrv runs initdb/pg_ctl from /usr/lib/postgresql/15/bin, or
# $BASE_PG_BIN). Idempotent: installs only when the server is missing.
set -euo pipefail
bin="${BASE_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
  exit 0
fi
echo "deps: PostgreSQL 15 server missing in $bin; installing postgresql-15" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if ! apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null; then
  # Distributions without a postgresql-15 package: take the default
  # server and point the tests at it.
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  echo "deps: postgresql-15 unavailable; installed $found (set BASE_PG_BIN=$found)" >&2
  exit 0
fi
# The Debian package starts a cluster of its own; the tests start theirs.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
    pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
  done
fi
