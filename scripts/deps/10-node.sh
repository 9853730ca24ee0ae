#!/usr/bin/env bash
# Node and the npm packages of the end-to-end suite (e2e/package.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
  echo "deps: node is missing; installing nodejs and npm" >&2
  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null
fi
if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
