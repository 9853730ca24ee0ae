#!/usr/bin/env bash
# Installs what the test suite needs beyond Go modules. Idempotent; safe to
# run on a fresh machine (the npm registry and Debian's packages are
# reachable) and on one where everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f e2e/package.json ]; then
  if ! command -v node >/dev/null 2>&1; then
    echo "test-deps: node is missing; installing nodejs" >&2
    (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null
  fi
  if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
    (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
