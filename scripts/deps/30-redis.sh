#!/usr/bin/env bash
# Redis 7 for the realtime bus tests (internal/testsrv/redis.go starts a
# throwaway redis-server per test). Idempotent: installs only when missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
echo "deps: redis-server is missing; installing redis-server" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
command -v redis-server >/dev/null
