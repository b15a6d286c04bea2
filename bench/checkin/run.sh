#!/usr/bin/env bash
# Check-in throughput: many simulated devices checking in concurrently against the SQLite store.
# Usage: bench/checkin/run.sh [DEVICES=10000] [DURATION=20s] [CONNECTIONS=64]
set -euo pipefail
DEVICES=${1:-10000}; DURATION=${2:-20s}; CONNECTIONS=${3:-64}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
PORT=${PORT:-18481}; BASE=http://127.0.0.1:$PORT; ADMIN=bench-admin-token
WORK=$(mktemp -d /tmp/ota-bench-checkin.XXXXXX); SERVER_PID=
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

dotnet build -c Release "$ROOT/src/OtaServer" -o "$WORK/bin" -v q -nologo >/dev/null

start_server() { # $1 = last-seen write interval
  OtaServer__DataDir="$WORK/data" OtaServer__Tokens__0__Name=admin OtaServer__Tokens__0__Token=$ADMIN \
  OtaServer__Tokens__0__Scopes__0=admin OtaServer__Tokens__0__Scopes__1=push \
  OtaServer__Devices__LastSeenWriteInterval="$1" OtaServer__RateLimits__CheckinsPerMinutePerDevice=0 Serilog__MinimumLevel__Default=Warning \
  Urls=$BASE dotnet "$WORK/bin/OtaServer.dll" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && return; sleep 0.2; done
  head -c 3000 "$WORK/server.log"; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

start_server 00:01:00
# Two commits in the served repository; target 22 (what devices run) and 42 (promoted).
mkdir -p "$WORK/tree/etc"
declare -A COMMIT
for v in 22 42; do
  echo "VERSION_ID=$v" > "$WORK/tree/etc/os-release"
  COMMIT[$v]=$(ostree --repo="$WORK/data/repos/main" commit -b main --tree=dir="$WORK/tree" --subject="v$v")
  TAGS='["promoted"]'
  code=$(curl -s -o "$WORK/target.json" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"version\":$v,\"ref\":\"main\",\"commit\":\"${COMMIT[$v]}\",\"tags\":$TAGS}" "$BASE/api/v1/targets")
  if [[ $code == 503 ]]; then
    # This build cannot inspect repository content yet: put the target straight into the store.
    sqlite3 "$WORK/data/ota.db" "INSERT INTO targets(repository,version,ref,commit_hex,created_at) VALUES('main',$v,'main','${COMMIT[$v]}',0);
      INSERT INTO target_tags SELECT id,'promoted' FROM targets WHERE version=$v;"
    SEEDED="(targets seeded into SQLite: no IRepositoryContent in this build)"
  elif [[ $code != 201 ]]; then cat "$WORK/target.json"; exit 1; fi
done
python3 "$HERE/seed.py" "$BASE" "$ADMIN" "$DEVICES" "$WORK/tokens.txt"
stop_server # restart so the seeded targets are loaded and no device state is cached

run() { # $1 label, $2 write interval
  start_server "$2"
  TOKENS="$WORK/tokens.txt" FROM_COMMIT=${COMMIT[22]} wrk -t2 -c5 -d3s -s "$HERE/checkin.lua" "$BASE" >/dev/null # warm-up
  echo "== $1 (devices=$DEVICES connections=$CONNECTIONS duration=$DURATION) ${SEEDED:-}"
  TOKENS="$WORK/tokens.txt" FROM_COMMIT=${COMMIT[22]} wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/checkin.lua" "$BASE" | grep -E "RESULT|Requests/sec|Non-2xx"
  stop_server
}
run "steady state: unchanged check-ins, last-seen written at most every 60 s" 00:01:00
run "every check-in records last-seen (LastSeenWriteInterval=0: queued, batch-written each second)" 00:00:00
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); wrk and server share them"
