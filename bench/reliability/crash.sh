#!/usr/bin/env bash
# Crash-consistency harness: kill -9 the server at random moments of a push (upload + ref move), a delta
# job, a delta deletion and its cleanup, and tagging; after every restart check what a device and the
# operator rely on. Usage: bench/reliability/crash.sh [KILLS]   (default 60; about 8 s a kill)
# Prints one line per kill and a closing "N passed, N failed".
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kills="${1:-60}"
work="$(mktemp -d /tmp/ota-crash.XXXXXX)"
trap 'kill -9 "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
command -v ostree >/dev/null || { echo "needs the ostree CLI (apt-get install ostree)" >&2; exit 2; }

dotnet build "$root/src/OtaServer/OtaServer.csproj" -c Release -v quiet -o "$work/server" >/dev/null
dotnet build "$root/src/otactl/otactl.csproj" -c Release -v quiet -o "$work/otactl" >/dev/null
token="crash-admin-token"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
data="$work/data"; repo="$data/repos/main"
otactl() { dotnet "$work/otactl/otactl.dll" --server "$url" --token "$token" "$@"; }
api() { curl -s -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$@"; }

start() {
  OtaServer__DataDir="$data" Urls="$url" Serilog__MinimumLevel__Default=Warning \
  OtaServer__Tokens__0__Name=crash OtaServer__Tokens__0__Token="$token" \
  OtaServer__Tokens__0__Scopes__0=admin OtaServer__Tokens__0__Scopes__1=push OtaServer__Tokens__0__Scopes__2=read \
  OtaServer__Deltas__DeleteGracePeriod=00:00:00 OtaServer__Deltas__CleanupInterval=00:00:01 \
  dotnet "$work/server/OtaServer.dll" >>"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do curl -sf "$url/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start" >&2; tail -20 "$work/server.log" >&2; exit 1
}

# A local build repository; each version changes a few hundred files so uploads and deltas take a while.
build="$work/build"; tree="$work/tree"
ostree init --mode=archive --repo="$build"
mkdir -p "$tree/usr/lib" "$tree/etc"
make_version() { # $1 = version
  python3 - "$tree" "$1" <<'PY'
import os, random, sys
tree, v = sys.argv[1], int(sys.argv[2])
rng = random.Random(v)
for i in range(400):
    p = os.path.join(tree, "usr/lib", f"lib{i}.so")
    if v == 1 or rng.random() < 0.3:
        with open(p, "wb") as f: f.write(os.urandom(2048) + bytes(rng.randrange(256) for _ in range(30000)))
with open(os.path.join(tree, "etc/version"), "w") as f: f.write(f"{v}\n")
PY
  ostree commit --repo="$build" -b main --subject "v$1" --add-metadata-string=version="$1" --tree=dir="$tree" >/dev/null
}

passed=0; failed=0; acknowledged=""; version=0; ops=(push push delta delete tag)
start
make_version 1; version=1
otactl push "$build" main >/dev/null; acknowledged=$(ostree rev-parse --repo="$build" main)
for k in $(seq 1 "$kills"); do
  op=${ops[$((RANDOM % ${#ops[@]}))]}
  delay=$(python3 -c "import random; print(round(random.uniform(0.05, 2.0), 2))")
  case $op in
    push)
      version=$((version + 1)); make_version $version
      candidate=$(ostree rev-parse --repo="$build" main)
      ( otactl push --force "$build" main >/dev/null 2>&1 && echo "$candidate" > "$work/ack" ) & opid=$! ;;
    delta)
      parent=$(ostree rev-parse --repo="$build" main^ 2>/dev/null || echo "")
      ( api -X POST "$url/api/v1/repos/main/deltas" -d "{\"from\":${parent:+\"$parent\"}${parent:-null},\"to\":\"$acknowledged\"}" >/dev/null ) & opid=$! ;;
    delete)
      name=$(api "$url/api/v1/repos/main/deltas" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["name"] if d else "")' 2>/dev/null || echo "")
      ( [ -n "$name" ] && api -X DELETE "$url/api/v1/repos/main/deltas/$name" >/dev/null ) & opid=$! ;;
    tag)
      ( api -X POST "$url/api/v1/targets" -d "{\"version\":$((1000 + k)),\"ref\":\"main\",\"commit\":\"$acknowledged\",\"tags\":[\"crash\"]}" >/dev/null ) & opid=$! ;;
  esac
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  wait "$opid" 2>/dev/null || true
  [ -f "$work/ack" ] && acknowledged=$(cat "$work/ack") && rm -f "$work/ack"
  start
  problems=()
  ostree fsck --repo="$repo" >/dev/null 2>"$work/fsck.err" || problems+=("fsck: $(tail -1 "$work/fsck.err")")
  ref=$(cat "$repo/refs/heads/main")
  # Every acknowledged ref move is there (a push cut before its answer may or may not have landed).
  if [ "$ref" != "$acknowledged" ]; then
    ostree log --repo="$repo" main 2>/dev/null | grep -q "$acknowledged" || problems+=("acknowledged $acknowledged lost (ref at $ref)")
    acknowledged="$ref"
  fi
  # The summary names exactly that commit, and lists no delta whose superblock is gone.
  client="$work/client-$k"; ostree init --mode=bare-user --repo="$client" >/dev/null
  ostree remote add --repo="$client" --no-gpg-verify ota "$url/repos/main" >/dev/null
  ostree pull --repo="$client" ota main >/dev/null 2>"$work/pull.err" || problems+=("pull: $(tail -1 "$work/pull.err")")
  [ "$(ostree rev-parse --repo="$client" ota:main 2>/dev/null)" = "$ref" ] || problems+=("summary serves another commit than the ref")
  # Every delta the summary lists still has its superblock (static-delta show reads it).
  for d in $(ostree remote summary --repo="$client" ota 2>/dev/null | sed -n '/Static Deltas/,$p' | grep -Eo '[0-9a-f]{64}(-[0-9a-f]{64})?' | sort -u); do
    ostree static-delta show --repo="$repo" "$d" >/dev/null 2>&1 || problems+=("summary lists delta $d, which cannot be read")
  done
  # No job stays pending or running (interrupted jobs are re-run).
  for _ in $(seq 1 300); do
    busy=$(api "$url/api/v1/jobs" | python3 -c 'import json,sys; d=json.load(sys.stdin); j=d.get("jobs",d) if isinstance(d,dict) else d; print(sum(1 for x in j if x.get("status") in ("Pending","Running")))' 2>/dev/null || echo 1)
    [ "$busy" = "0" ] && break; sleep 0.2
  done
  [ "$busy" = "0" ] || problems+=("$busy job(s) still pending or running 60 s after restart")
  left=$(find "$repo" \( -name '.*.tmp-*' -o -path "$repo/tmp/delta-*" -o -path "$repo/tmp/trash-*" -o -path "$repo/tmp/ingest-*" \) -print | head -3)
  [ -z "$left" ] || problems+=("leftover temporary files: $left")
  rm -rf "$client"
  if [ ${#problems[@]} -eq 0 ]; then passed=$((passed + 1)); echo "kill $k ($op after ${delay}s): ok"
  else failed=$((failed + 1)); echo "kill $k ($op after ${delay}s): FAILED: ${problems[*]}"; fi
done
kill "$pid" 2>/dev/null || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
