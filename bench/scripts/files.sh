#!/usr/bin/env bash
# Upload and download throughput of 1 MiB and 50 MiB files, Base vs
# PocketBase v0.39.11, on local disk and on S3 (a versitygw started here),
# curl over loopback. Writes bench/results/files-<date>.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
trap 'kill $(jobs -p) $(cat "$W/pids" 2>/dev/null) 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
VGW=${BASE_VERSITYGW:-$ROOT/.deps/bin/versitygw}
[ -x "$VGW" ] || bash "$ROOT/scripts/deps/60-versitygw.sh"
head -c $((1024*1024)) /dev/urandom > "$W/1m.bin"
head -c $((50*1024*1024)) /dev/urandom > "$W/50m.bin"
(cd "$W" && GOBIN=$W/bin GOFLAGS= go install github.com/pocketbase/pocketbase/examples/base@v0.39.11) 2>/dev/null
mv "$W/bin/base" "$W/bin/pocketbase"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$W/bin/base" ./cmd/base)
mkdir -p "$W/s3/pb" "$W/s3/base"
"$VGW" --access benchkey --secret benchsecret --port 127.0.0.1:18370 posix "$W/s3" >/dev/null 2>&1 &
sleep 1
coll='{"name":"docs","type":"base","listRule":"","viewRule":"","createRule":"","fields":[{"name":"f","type":"file","maxSelect":1,"maxSize":104857600}]}'
mkcoll() { # url token
  local out
  out=$(curl -sS -w '\n%{http_code}' -X POST "$1/api/collections" -H "Authorization: $2" -H 'Content-Type: application/json' -d "$coll")
  [ "${out##*$'\n'}" = 200 ] || { echo "create collection on $1: $out" >&2; exit 1; }
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%7.0f MB/s", a[int((NR+1)/2)]/1048576}'; }
up() { # url token file n -> prints speeds; last record in $W/last.json (fails loudly)
  for i in $(seq 1 "$4"); do
    code=$(curl -sS -o "$W/last.json" -w '%{http_code} %{speed_upload}' -X POST "$1/api/collections/docs/records" -H "Authorization: $2" -F "f=@$3")
    [ "${code%% *}" = 200 ] || { echo "upload to $1: $code $(cat "$W/last.json")" >&2; exit 1; }
    echo "${code#* }"
  done
}
down() { # url n
  for i in $(seq 1 "$2"); do curl -fsS -o /dev/null -w '%{speed_download}\n' "$1"; done
}
fileurl() { python3 -c 'import json,sys;d=json.load(open(sys.argv[2]));print("%s/api/files/%s/%s/%s"%(sys.argv[1],d["collectionId"],d["id"],d["f"]))' "$1" "$W/last.json"; }
run() { # label url token
  local u1 d1 u50 d50
  # errexit does not apply inside `run … || …`: check each step.
  u1=$(up "$2" "$3" "$W/1m.bin" 15 | median) || return 1
  d1=$(down "$(fileurl "$2")" 25 | median) || return 1
  u50=$(up "$2" "$3" "$W/50m.bin" 5 | median) || return 1
  d50=$(down "$(fileurl "$2")" 10 | median) || return 1
  printf '%-16s upload 1MiB %s  download 1MiB %s  upload 50MiB %s  download 50MiB %s\n' "$1" "$u1" "$d1" "$u50" "$d50"
}
pbstart() { # dir port; the server's pid goes to $W/pids

  "$W/bin/pocketbase" --dir "$1" --automigrate=false --migrationsDir "$W/m" --dev=false superuser upsert a@b.co passw0rd123 >/dev/null
  "$W/bin/pocketbase" serve --dir "$1" --automigrate=false --migrationsDir "$W/m" --dev=false --http "127.0.0.1:$2" >/dev/null 2>&1 &
  echo $! >> "$W/pids"
  sleep 1.5
  curl -fsS -X POST "http://127.0.0.1:$2/api/collections/_superusers/auth-with-password" -H 'Content-Type: application/json' \
    -d '{"identity":"a@b.co","password":"passw0rd123"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])'
}
# PocketBase, local then S3
PT=$(pbstart "$W/pb1" 18371)
mkcoll http://127.0.0.1:18371 "$PT"
run "pocketbase local" http://127.0.0.1:18371 "$PT"
PT2=$(pbstart "$W/pb2" 18372)
curl -fsS -o /dev/null -X PATCH http://127.0.0.1:18372/api/settings -H "Authorization: $PT2" -H 'Content-Type: application/json' \
  -d '{"s3":{"enabled":true,"bucket":"pb","region":"us-east-1","endpoint":"http://127.0.0.1:18370","accessKey":"benchkey","secret":"benchsecret","forcePathStyle":true}}'
mkcoll http://127.0.0.1:18372 "$PT2"
run "pocketbase s3" http://127.0.0.1:18372 "$PT2" || echo "pocketbase s3    failed: PocketBase could not store files in this S3 server (see the error above)"
# Base, local then S3
"$W/bin/base" serve --dir "$W/b1" --http 127.0.0.1:18373 >/dev/null 2>&1 &
sleep 1
BT=$("$W/bin/base" token --dir "$W/b1" --sub default/a --org default --admin)
mkcoll http://127.0.0.1:18373 "$BT"
run "base local" http://127.0.0.1:18373 "$BT"
BASE_FILES=s3 S3_ENDPOINT=http://127.0.0.1:18370 S3_BUCKET=base S3_REGION=us-east-1 S3_ACCESS_KEY=benchkey S3_SECRET_KEY=benchsecret S3_FORCE_PATH_STYLE=true \
  "$W/bin/base" serve --dir "$W/b2" --http 127.0.0.1:18374 >/dev/null 2>&1 &
sleep 1
BT2=$("$W/bin/base" token --dir "$W/b2" --sub default/a --org default --admin)
mkcoll http://127.0.0.1:18374 "$BT2"
run "base s3" http://127.0.0.1:18374 "$BT2"
