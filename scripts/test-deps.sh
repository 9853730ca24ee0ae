#!/usr/bin/env bash
# Installs what the test suite needs beyond Go modules: every
# scripts/deps/*.sh in turn (each idempotent: it installs only what is
# missing). Safe on a fresh machine (the npm registry and Debian's packages
# are reachable) and on one where everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in scripts/deps/*.sh; do
  [ -e "$f" ] || continue
  echo "test-deps: $f" >&2
  bash "$f"
done
