# Shared helpers for bench/scripts/*.sh (sourced, not run).
#
# Knobs (environment): CLIENTS (32), DURATION (15s), WARMUP (1s), RECORDS (10000),
# SCENARIOS (list,expand,view,create,update), COLD_N (20), PORT (per script),
# OUT (bench/results), KEEP=1 keeps the temp dir, NICE (-20: priority of the
# server's, loadgen's and coldstart's sessions; negative needs root, else 0),
# QUIET (0.10) and QUIET_WAIT (10s): wait for other processes to use less than
# QUIET of the CPU before each scenario, measuring anyway after QUIET_WAIT.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-1s}
RECORDS=${RECORDS:-10000}
SCENARIOS=${SCENARIOS:-list,expand,view,create,update}
COLD_N=${COLD_N:-20}
QUIET=${QUIET:-0.10}
QUIET_WAIT=${QUIET_WAIT:-10s}
NICE=${NICE:--20}
if ((NICE < 0)) && [[ $(id -u) != 0 ]]; then NICE=0; fi

# The kernel's scheduler autogroups give every session an equal share of the
# CPU whatever its processes' nice values, so on a shared machine the
# benchmark's processes each run in their own session whose autogroup gets
# NICE: other work then cannot steal the cores mid-window. Both targets get
# the same treatment.

# boost PID: set the autogroup priority of PID's session.
boost() {
	[[ $NICE == 0 ]] && return 0
	local i sess
	# Wait until setsid has made PID a session leader: a new session gets a
	# new autogroup, so writing earlier would boost the caller's session.
	for ((i = 0; i < 200; i++)); do
		sess=$(awk '{sub(/.*\) /, ""); print $4}' "/proc/$1/stat" 2>/dev/null || true)
		[[ $sess == "$1" ]] && break
		sleep 0.005
	done
	if [[ $sess != "$1" ]] || ! echo "$NICE" >"/proc/$1/autogroup" 2>/dev/null; then
		log "cannot raise the priority of pid $1 (autogroup)"
	fi
}

# start_boosted LOGFILE CMD...: start CMD in the background in its own session
# at the benchmark priority; its pid is left in BOOSTED_PID.
start_boosted() {
	local out=$1
	shift
	setsid nice -n "$NICE" "$@" >"$out" 2>&1 &
	BOOSTED_PID=$!
	boost "$BOOSTED_PID"
}

# run_boosted OUTFILE CMD...: run CMD like start_boosted (stdout to OUTFILE,
# stderr to ours), wait for it, then print OUTFILE.
run_boosted() {
	local out=$1
	shift
	setsid nice -n "$NICE" "$@" >"$out" &
	BOOSTED_PID=$!
	boost "$BOOSTED_PID"
	wait "$BOOSTED_PID"
	BOOSTED_PID=
	cat "$out"
}
BOOSTED_PID=
OUT=${OUT:-$ROOT/bench/results}
DATE=$(date -u +%Y-%m-%d)

WORK=$(mktemp -d)
SERVER_PID=

cleanup() {
	if [[ -n $BOOSTED_PID ]]; then kill "$BOOSTED_PID" 2>/dev/null || true; fi
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap "exit 143" TERM INT

log() { printf '==> %s\n' "$*" >&2; }

# build_tools builds loadgen and coldstart (std lib only) into $WORK/bin.
build_tools() {
	mkdir -p "$WORK/bin"
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/bin/loadgen" ./bench/cmd/loadgen &&
		CGO_ENABLED=0 go build -o "$WORK/bin/coldstart" ./bench/cmd/coldstart)
}

# wait_health URL: wait up to 15 s for a 200.
wait_health() {
	local url=$1 i
	for ((i = 0; i < 300; i++)); do
		if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "no 200 from $url" >&2
	return 1
}

# port_free PORT: fail if something already listens on 127.0.0.1:PORT.
port_free() {
	if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; then
		echo "127.0.0.1:$1 is in use; set PORT" >&2
		return 1
	fi
}

# check_server_pid BINARY: SERVER_PID must be BINARY itself (RSS is read from it).
check_server_pid() {
	local exe
	exe=$(readlink "/proc/$SERVER_PID/exe" || true)
	if [[ $exe != "$1" ]]; then
		echo "pid $SERVER_PID is $exe, not $1" >&2
		return 1
	fi
}

# stop_server: SIGTERM the server started in the background and wait for it.
stop_server() {
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# machine_json: a JSON object describing this machine.
machine_json() {
	local cpu kernel gov
	cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo | sed 's/"/\\"/g')
	kernel=$(uname -r)
	gov=$(go version | sed 's/"/\\"/g')
	printf '{"cpus":%d,"cpu":"%s","memMiB":%d,"kernel":"%s","go":"%s"}' \
		"$(nproc)" "$cpu" "$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)" "$kernel" "$gov"
}

# write_results NAME VERSION: combine $WORK/loadgen.json, $WORK/coldstart.json and
# $WORK/coldstart-empty.json
# into $OUT/NAME-DATE.json and the text outputs into $OUT/NAME-DATE.txt.
write_results() {
	local name=$1 version=$2 base="$OUT/$1-$DATE"
	mkdir -p "$OUT"
	{
		printf '{\n"target": "%s",\n"version": "%s",\n"date": "%s",\n"machine": %s,\n"nice": %d,\n' \
			"$name" "$version" "$DATE" "$(machine_json)" "$NICE"
		printf '"load": '
		cat "$WORK/loadgen.json"
		printf ',\n"coldstart": '
		cat "$WORK/coldstart.json"
		printf ',\n"coldstartEmpty": '
		cat "$WORK/coldstart-empty.json"
		printf '}\n'
	} >"$base.json"
	{
		echo "# $name $version, $DATE"
		echo "# machine: $(nproc) CPUs, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(go version)"
		echo "# server and loadgen share the machine's cores (no pinning), each in its own session at autogroup nice $NICE; loopback only"
		echo
		cat "$WORK/loadgen.txt"
		echo
		echo "loaded data dir (after the load run):"
		cat "$WORK/coldstart.txt"
		echo
		echo "empty data dir:"
		cat "$WORK/coldstart-empty.txt"
	} >"$base.txt"
	log "wrote $base.json and $base.txt"
}
