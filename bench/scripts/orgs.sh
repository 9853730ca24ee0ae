#!/usr/bin/env bash
# Issue 5 "Scale to zero" per engine: N orgs created, base serve restarted,
# then the first request to each existing org (cold) and to new ones, with
# base serve's RSS after 100, 1,000 and 10,000 orgs. Appends the table to
# bench/results/orgs-<date>.txt. See bench/cmd/orgs.
#
# Knobs: ENGINES (sqlite,postgres,libsql), ORGS (10000), NEW (200), CONC (4),
# SETTLE (3s), IDLE (0s: a last RSS reading after that long idle), OUT
# (bench/results), NICE (see lib.sh). PostgreSQL and sqld come from where
# internal/testsrv finds them (scripts/test-deps.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENGINES=${ENGINES:-sqlite,postgres,libsql}
ORGS=${ORGS:-10000}
NEW=${NEW:-200}
CONC=${CONC:-4}
SETTLE=${SETTLE:-3s}
IDLE=${IDLE:-0s}

log "building base and orgs"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/bin/base" ./cmd/base && go build -o "$WORK/bin/orgs" ./bench/cmd/orgs)
VERSION=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)
mkdir -p "$OUT"
echo "# base $VERSION" >>"$OUT/orgs-$DATE.txt"
# orgs finds sqld relative to the module root: run it from there.
(cd "$ROOT" && run_boosted "$WORK/orgs.txt" "$WORK/bin/orgs" -base "$WORK/bin/base" -engines "$ENGINES" \
	-n "$ORGS" -new "$NEW" -conc "$CONC" -settle "$SETTLE" -idle "$IDLE" -out "$OUT/orgs-$DATE.txt")
log "appended to $OUT/orgs-$DATE.txt"
