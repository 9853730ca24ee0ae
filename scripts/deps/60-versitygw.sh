#!/usr/bin/env bash
# versitygw (an S3-compatible gateway over a POSIX directory) for the S3
# file storage tests, built with `go install` into the project-local,
# git-ignored .deps/bin (internal/testsrv looks there, or at
# $BASE_VERSITYGW). Pinned; idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v1.8.0
bin=.deps/bin/versitygw
stamp=.deps/bin/.versitygw-version
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
mkdir -p .deps/bin
[ -f .deps/.gitignore ] || printf '*\n!.gitignore\n' > .deps/.gitignore
GOBIN="$PWD/.deps/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$version"
echo "$version" > "$stamp"
"$bin" --version >/dev/null
