#!/usr/bin/env bash
# Download throughput, 50 MiB file, Base vs PocketBase, curl over loopback.
set -euo pipefail
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $W' EXIT
head -c $((50*1024*1024)) /dev/urandom > $W/big.bin
(cd $W && GOBIN=$W/bin GOFLAGS= go install github.com/pocketbase/pocketbase/examples/base@v0.39.11) 2>/dev/null
mv $W/bin/base $W/bin/pocketbase
(cd "$(dirname "$0")/../.." && CGO_ENABLED=0 go build -o $W/bin/base ./cmd/base)
coll='{"name":"docs","type":"base","listRule":"","viewRule":"","createRule":"","fields":[{"name":"f","type":"file","maxSelect":1,"maxSize":104857600}]}'
measure() { # url
  local best=0; for i in $(seq 1 15); do
    r=$(curl -s -o /dev/null -w '%{speed_download}' "$1"); echo "$r"; done | sort -n | awk '{a[NR]=$1} END {printf "median %.0f MB/s  (min %.0f max %.0f)\n", a[int((NR+1)/2)]/1048576, a[1]/1048576, a[NR]/1048576}'
}
# PocketBase
$W/bin/pocketbase --dir $W/pb --automigrate=false --migrationsDir $W/m --dev=false superuser upsert a@b.co passw0rd123 >/dev/null
$W/bin/pocketbase serve --dir $W/pb --automigrate=false --migrationsDir $W/m --dev=false --http 127.0.0.1:18301 >/dev/null 2>&1 &
sleep 1.5
PT=$(curl -fsS -X POST http://127.0.0.1:18301/api/collections/_superusers/auth-with-password -H 'Content-Type: application/json' -d '{"identity":"a@b.co","password":"passw0rd123"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
curl -fsS -o /dev/null -X POST http://127.0.0.1:18301/api/collections -H "Authorization: $PT" -H 'Content-Type: application/json' -d "$coll"
R=$(curl -fsS -X POST http://127.0.0.1:18301/api/collections/docs/records -H "Authorization: $PT" -F "f=@$W/big.bin")
CID=$(echo "$R" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["collectionId"],d["id"],d["f"])')
set -- $CID
echo -n "pocketbase 50MiB download: "; measure "http://127.0.0.1:18301/api/files/$1/$2/$3"
# Base
$W/bin/base serve --dir $W/base --http 127.0.0.1:18302 >/dev/null 2>&1 &
sleep 1
BT=$($W/bin/base token --dir $W/base --sub default/a --org default --admin)
curl -fsS -o /dev/null -X POST http://127.0.0.1:18302/api/collections -H "Authorization: $BT" -H 'Content-Type: application/json' -d "$coll"
R=$(curl -fsS -X POST http://127.0.0.1:18302/api/collections/docs/records -H "Authorization: $BT" -F "f=@$W/big.bin")
CID=$(echo "$R" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["collectionId"],d["id"],d["f"])')
set -- $CID
echo -n "base 50MiB download: "; measure "http://127.0.0.1:18302/api/files/$1/$2/$3"
