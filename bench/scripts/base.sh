#!/usr/bin/env bash
# Runs the issue 2 workload against Base (built from this checkout) on
# 127.0.0.1 and writes bench/results/base-<date>.{json,txt}. Same workload,
# same tools, same machine as pocketbase.sh; run them one after the other.
#
# Base is started with `base serve --dir D --http ADDR`; the load runs as an
# org superuser of the `default` org (`base token ... --admin`), as the
# PocketBase run uses a PocketBase superuser. Both answer under /api.
#
# Knobs: see lib.sh (CLIENTS, DURATION, RECORDS, COLD_N, PORT=18190, ...).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${PORT:-18190}
ADDR=127.0.0.1:$PORT

port_free "$PORT"
log "building loadgen, coldstart and base"
build_tools
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/bin/base" ./cmd/base)
BASE="$WORK/bin/base"
VERSION=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)

log "starting Base on $ADDR"
start_boosted "$WORK/server.log" "$BASE" serve --dir "$WORK/data" --http "$ADDR"
SERVER_PID=$BOOSTED_PID # setsid and nice exec the server: this is its pid
BOOSTED_PID=
wait_health "http://$ADDR/v1/health"
check_server_pid "$BASE"

TOKEN=$("$BASE" token --dir "$WORK/data" --sub bench --org default --admin --ttl 2h)
[[ -n $TOKEN ]] || { echo "no token from base token" >&2; exit 1; }

log "load: $RECORDS records, $CLIENTS clients, $DURATION per scenario"
run_boosted "$WORK/loadgen.txt" "$WORK/bin/loadgen" -url "http://$ADDR" -prefix /api -token "$TOKEN" -label "base $VERSION" \
	-setup -records "$RECORDS" -clients "$CLIENTS" -duration "$DURATION" -warmup "$WARMUP" \
	-scenarios "$SCENARIOS" -quiet "$QUIET" -quiet-wait "$QUIET_WAIT" -pid "$SERVER_PID" -json "$WORK/loadgen.json"
stop_server

log "cold start x$COLD_N (on the data dir the load run left behind)"
run_boosted "$WORK/coldstart.txt" "$WORK/bin/coldstart" -n "$COLD_N" -url "http://$ADDR/v1/health" -json "$WORK/coldstart.json" -quiet "$QUIET" -quiet-wait "$QUIET_WAIT" \
	-log "$WORK/coldstart.log" -- "$BASE" serve --dir "$WORK/data" --http "$ADDR"

log "cold start x$COLD_N (on an empty data dir; the discarded first run initializes it)"
run_boosted "$WORK/coldstart-empty.txt" "$WORK/bin/coldstart" -n "$COLD_N" -url "http://$ADDR/v1/health" -json "$WORK/coldstart-empty.json" -quiet "$QUIET" -quiet-wait "$QUIET_WAIT" \
	-log "$WORK/coldstart.log" -- "$BASE" serve --dir "$WORK/data-empty" --http "$ADDR"

write_results base "$VERSION"
