#!/usr/bin/env bash
# Runs the issue 2 workload against PocketBase v0.39.11 (the reference) on
# 127.0.0.1 and writes bench/results/pocketbase-<date>.{json,txt}.
#
# PocketBase is installed from the Go proxy into a temp GOBIN. Because that
# binary lives under the temp dir, PocketBase would think it runs via
# `go run` and switch dev mode on (every SQL statement printed): --dev=false
# turns that off, as a released binary would be.
#
# Knobs: see lib.sh (CLIENTS, DURATION, RECORDS, COLD_N, PORT=18090, ...).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PB_VERSION=v0.39.11
PORT=${PORT:-18090}
ADDR=127.0.0.1:$PORT
EMAIL=bench@example.com
PASSWORD=bench-password-123

port_free "$PORT"
log "building loadgen and coldstart"
build_tools
log "installing PocketBase $PB_VERSION"
(cd "$WORK" && GOBIN="$WORK/bin" GOFLAGS= go install "github.com/pocketbase/pocketbase/examples/base@$PB_VERSION")
PB="$WORK/bin/base"
PBARGS=(--dir "$WORK/pb" --automigrate=false --migrationsDir "$WORK/m" --dev=false)

log "creating the superuser"
"$PB" "${PBARGS[@]}" superuser upsert "$EMAIL" "$PASSWORD" >/dev/null

log "starting PocketBase on $ADDR"
start_boosted "$WORK/server.log" "$PB" serve "${PBARGS[@]}" --http "$ADDR"
SERVER_PID=$BOOSTED_PID # setsid and nice exec the server: this is its pid
BOOSTED_PID=
wait_health "http://$ADDR/api/health"
check_server_pid "$PB"

TOKEN=$(curl -fsS -X POST "http://$ADDR/api/collections/_superusers/auth-with-password" \
	-H 'Content-Type: application/json' \
	-d "{\"identity\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" |
	sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n $TOKEN ]] || { echo "no superuser token" >&2; exit 1; }

log "load: $RECORDS records, $CLIENTS clients, $DURATION per scenario"
run_boosted "$WORK/loadgen.txt" "$WORK/bin/loadgen" -url "http://$ADDR" -prefix /api -token "$TOKEN" -label "pocketbase $PB_VERSION" \
	-setup -records "$RECORDS" -clients "$CLIENTS" -duration "$DURATION" -warmup "$WARMUP" \
	-scenarios "$SCENARIOS" -quiet "$QUIET" -quiet-wait "$QUIET_WAIT" -pid "$SERVER_PID" -json "$WORK/loadgen.json"
stop_server

log "cold start x$COLD_N (on the data dir the load run left behind)"
run_boosted "$WORK/coldstart.txt" "$WORK/bin/coldstart" -n "$COLD_N" -url "http://$ADDR/api/health" -json "$WORK/coldstart.json" -quiet "$QUIET" -quiet-wait "$QUIET_WAIT" \
	-log "$WORK/coldstart.log" -- "$PB" serve "${PBARGS[@]}" --http "$ADDR"

log "cold start x$COLD_N (on an empty, initialized data dir)"
"$PB" --dir "$WORK/pb-empty" --automigrate=false --migrationsDir "$WORK/m" --dev=false superuser upsert "$EMAIL" "$PASSWORD" >/dev/null
run_boosted "$WORK/coldstart-empty.txt" "$WORK/bin/coldstart" -n "$COLD_N" -url "http://$ADDR/api/health" -json "$WORK/coldstart-empty.json" -quiet "$QUIET" -quiet-wait "$QUIET_WAIT" \
	-log "$WORK/coldstart.log" -- "$PB" serve --dir "$WORK/pb-empty" --automigrate=false --migrationsDir "$WORK/m" --dev=false --http "$ADDR"

write_results pocketbase "$PB_VERSION"
