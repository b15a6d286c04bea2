#!/usr/bin/env bash
# Side-by-side benchmark of the OtaServer static origin against nginx, on loopback, in one run.
#
#   bench/serving/run.sh            # 10 s per measurement, 2 wrk threads, 64 connections
#   DURATION=5s CONNECTIONS=32 ROUNDS=2 bench/serving/run.sh
#
# Builds OtaServer (Release), generates an archive repository with the real ostree CLI
# (5,000 small files + one 32 MB file), serves the same folder with OtaServer and with nginx
# (sendfile on, access log on: the counterpart of our one-line-per-request Serilog log),
# and drives both with wrk:
#   (a) one small object repeated, (b) 5,000 distinct objects in rotation, (c) one 32 MB object.
# OtaServer is measured three times: with its request log as configured (console), with the request
# log written by Serilog's buffered File sink instead (configuration only), and with the request log
# turned off (Serilog override), to show what the log costs.
# Results: a Markdown table on stdout and in $WORK/results.md. Everything lives in a temp folder
# that is removed at the end (KEEP=1 keeps it).
set -euo pipefail

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-3s}
OTA_PORT=${OTA_PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}
FILES=${FILES:-5000}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/ota-bench-serving.XXXXXX)
chmod 755 "$WORK"
OTA_PID="" NGINX_STARTED=""

cleanup() {
  [[ -n "$OTA_PID" ]] && kill "$OTA_PID" 2>/dev/null && wait "$OTA_PID" 2>/dev/null || true
  [[ -n "$NGINX_STARTED" ]] && nginx -c "$WORK/nginx.conf" -p "$WORK/nginx" -s stop 2>/dev/null || true
  if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }

# ---------------------------------------------------------------- build
log "building OtaServer (Release) into $WORK/app"
dotnet publish "$ROOT/src/OtaServer/OtaServer.csproj" -c Release -r "linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')" --self-contained false -o "$WORK/app" --nologo -v quiet >/dev/null

# ---------------------------------------------------------------- repository
REPO="$WORK/data/repos/main"
log "generating $FILES files + one 32 MB file and committing them with ostree"
mkdir -p "$WORK/tree/big" "$WORK/data/repos"
python3 - "$WORK/tree" "$FILES" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(count):
    d = os.path.join(root, "f", "%02x" % (i % 64))
    os.makedirs(d, exist_ok=True)
    size = rng.choice([200, 700, 1500, 3000, 6000, 12000])
    with open(os.path.join(d, "file%05d" % i), "wb") as f:
        f.write(os.urandom(size))
with open(os.path.join(root, "big", "blob"), "wb") as f:
    f.write(os.urandom(32 * 1024 * 1024))
PY
ostree init --mode=archive --repo="$REPO"
ostree --repo="$REPO" commit -b main --tree=dir="$WORK/tree" >/dev/null
ostree --repo="$REPO" summary -u
chmod -R a+rX "$WORK/data"

# Object paths: 5,000 small .filez in rotation, one small one, and the 32 MB one.
(cd "$REPO" && find objects -name '*.filez' -size -64k | sort | sed -n "1,${FILES}p" | sed 's|^|/repos/main/|') > "$WORK/paths.txt"
SMALL=$(cd "$REPO" && find objects -name '*.filez' -size +500c -size -1200c | sort | sed -n 1p)
BIG=$(cd "$REPO" && find objects -name '*.filez' -size +30M | sed -n 1p)
log "$(wc -l < "$WORK/paths.txt") objects in rotation; small: $(stat -c %s "$REPO/$SMALL") B; big: $(stat -c %s "$REPO/$BIG") B"

# ---------------------------------------------------------------- nginx
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  default_type application/octet-stream;
  types { }
  etag on;
  access_log $WORK/nginx/logs/access.log combined;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /repos/main/ { alias $REPO/; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK/nginx" -t 2>/dev/null
nginx -c "$WORK/nginx.conf" -p "$WORK/nginx"
NGINX_STARTED=1

# ---------------------------------------------------------------- OtaServer
start_ota() { # $1 = log variant: log (as configured in appsettings.json: console), nolog, filelog
  local extra=()
  case $1 in
    nolog) extra=(env "Serilog__MinimumLevel__Override__OtaServer.Diagnostics.RequestLog=Warning") ;;
    filelog) extra=(env Serilog__WriteTo__0__Name=File "Serilog__WriteTo__0__Args__path=$WORK/otaserver-file.log"
                    Serilog__WriteTo__0__Args__buffered=true) ;;
  esac
  (cd "$WORK/app" && exec "${extra[@]}" env OtaServer__DataDir="$WORK/data" \
      ./OtaServer --urls "http://127.0.0.1:$OTA_PORT" >>"$WORK/otaserver.log" 2>&1) &
  OTA_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$OTA_PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "OtaServer did not start"; tail -20 "$WORK/otaserver.log" >&2; exit 1
}
stop_ota() { kill "$OTA_PID"; wait "$OTA_PID" 2>/dev/null || true; OTA_PID=""; }

# Sanity: both serve identical bytes for the big object and the summary.
check_same() {
  local a b
  a=$(curl -sf "http://127.0.0.1:$OTA_PORT/repos/main/$1" | sha256sum)
  b=$(curl -sf "http://127.0.0.1:$NGINX_PORT/repos/main/$1" | sha256sum)
  [[ "$a" == "$b" ]] || { log "OtaServer and nginx differ on $1"; exit 1; }
}

# ---------------------------------------------------------------- wrk
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
run_wrk() { # server port scenario
  local server=$1 port=$2 scenario=$3 out args
  case $scenario in
    a-small) args=(-s "$HERE/single.lua" "http://127.0.0.1:$port/repos/main/$SMALL") ;;
    b-rotate) args=(-s "$HERE/rotate.lua" "http://127.0.0.1:$port/") ;;
    c-32MB) args=(-s "$HERE/single.lua" "http://127.0.0.1:$port/repos/main/$BIG") ;;
  esac
  # (c) moves 32 MB per request: fewer connections, as a CDN/device would.
  local conns=$CONNECTIONS
  [[ $scenario == c-32MB ]] && conns=$(( CONNECTIONS < 8 ? CONNECTIONS : 8 ))
  PATHS_FILE="$WORK/paths.txt" wrk -t"$THREADS" -c"$conns" -d"$WARMUP" "${args[@]}" >/dev/null
  out=$(PATHS_FILE="$WORK/paths.txt" wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout 10s --latency "${args[@]}")
  local line; line=$(grep '^RESULT' <<<"$out")
  log "$server $scenario: $line"
  echo -e "$server\t$scenario\t$line" >> "$RESULTS"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
  for variant in log nolog filelog; do
    start_ota "$variant"
    check_same "$BIG"; check_same summary
    for scenario in a-small b-rotate c-32MB; do
      run_wrk "otaserver-$variant" "$OTA_PORT" "$scenario"
      [[ $variant == log ]] && run_wrk nginx "$NGINX_PORT" "$scenario"
    done
    stop_ota
  done
done

# ---------------------------------------------------------------- report
log "request log lines written: otaserver console $(grep -c 'HTTP GET' "$WORK/otaserver.log" || true), file $(grep -c 'HTTP GET' "$WORK/otaserver-file.log" || true), nginx $(wc -l < "$WORK/nginx/logs/access.log")"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$RESULTS" "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(nproc)" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY' | tee "$WORK/results.md"
import sys, re, collections, statistics
path, threads, conns, duration, rounds, cpus, load_before, load_after = sys.argv[1:]
runs = collections.defaultdict(list)
for line in open(path):
    server, scenario, result = line.rstrip("\n").split("\t")
    kv = dict(re.findall(r"(\w+)=(\d+)", result))
    secs = int(kv["duration_us"]) / 1e6
    errors = sum(int(kv[k]) for k in ("connect", "read", "write", "status", "timeout"))
    runs[(server, scenario)].append((int(kv["requests"]) / secs, int(kv["bytes"]) / secs / 1e6, errors, int(kv["p99_us"]) / 1000))
def med(xs): return statistics.median(xs)
names = {"a-small": "(a) one small object", "b-rotate": "(b) 5,000 objects in rotation", "c-32MB": "(c) one 32 MB object"}
print(f"{cpus} CPUs, load average {load_before} before / {load_after} after; wrk -t{threads}, {duration} per run "
      f"(c: ≤ 8 connections, else {conns}), {rounds} interleaved round(s), median; errors = non-2xx + socket errors\n")
print("| scenario | server | req/s | MB/s | p99 ms | errors | vs nginx (req/s, MB/s) |")
print("|---|---|---:|---:|---:|---:|---:|")
for scenario in ("a-small", "b-rotate", "c-32MB"):
    base = runs.get(("nginx", scenario))
    for server in ("nginx", "otaserver-log", "otaserver-filelog", "otaserver-nolog"):
        r = runs.get((server, scenario))
        if not r: continue
        rps, mbs = med([x[0] for x in r]), med([x[1] for x in r])
        ratio = f"{rps / med([x[0] for x in base]):.2f}×, {mbs / med([x[1] for x in base]):.2f}×" if base else ""
        print(f"| {names[scenario]} | {server} | {rps:,.0f} | {mbs:,.1f} | {med([x[3] for x in r]):.1f} | {sum(x[2] for x in r)} | {ratio} |")
PY
