#!/usr/bin/env bash
# Bytes the real libostree 2022.7 client transfers to go v1 -> v2 through a static delta, compared with the
# delta's own size (superblock + parts + fallbacks), for
#   (a) OtaServer serving its own delta (generated through the admin API), with the commitmeta hold;
#   (b) nginx serving the same repository with `ostree static-delta generate` + `ostree summary -u`.
# The pair is the Debian minbase rootfs pair of bench/deltas (built and cached by make-rootfs.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "$here/../out" && cd "$here/../out" && pwd)"
port="${PORT:-18091}"; nginx_port="${NGINX_PORT:-18092}"
source "$here/../lib/server.sh"

bash "$here/../deltas/make-rootfs.sh" >/dev/null
repo="$out/repo"
v1="$(ostree --repo="$repo" rev-parse bench/v1)"; v2="$(ostree --repo="$repo" rev-parse bench/v2)"

work="$(mktemp -d /tmp/ota-bench-transfer.XXXXXX)"; chmod 755 "$work"   # nginx workers run as nobody
cleanup() { stop_otaserver; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
publish_otaserver "$work"

show_size() { # $1 repo, $2 delta name -> superblock + parts + fallbacks (bytes)
  local show sb dir
  show="$(ostree --repo="$1" static-delta show "$2")"
  dir="$(find "$1/deltas" -name superblock -newer "$1/config" -o -name superblock | head -1)"
  sb=$(stat -c %s "$dir")
  echo $(( sb + $(echo "$show" | awk '/^Total Part Size:/ {print $4}') + $(echo "$show" | awk '/^Total Fallback Size:/ {print $4}') ))
}

client_pull() { # $1 url, $2 client dir -> pulls v1 (objects, not measured), then v2; prints ostree's final line
  ostree init --mode=bare-user --repo="$2" >/dev/null
  ostree remote add --repo="$2" --no-gpg-verify r "$1"
  ostree pull --repo="$2" --disable-static-deltas r bench/v1 >/dev/null
  sleep 2; wc -l < "$LOG_TO_MARK" > "$2.mark" 2>/dev/null || true   # the request log is written asynchronously
  ostree pull --repo="$2" r bench/v2 | tail -1
  sleep 2
  ostree fsck --repo="$2" >/dev/null
}

# (a) OtaServer
start_otaserver "$work/data" "$port" "$work/server.log"
url="http://127.0.0.1:$port"
"$OTACTL" push --server "$url" --token "$BENCH_TOKEN" "$repo" bench/v1 >/dev/null
"$OTACTL" push --server "$url" --token "$BENCH_TOKEN" "$repo" bench/v2 >/dev/null
job=$(curl -sf -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"from\":\"$v1\",\"to\":\"$v2\"}" "$url/api/v1/repos/main/deltas" | sed -E 's/.*"jobUrl":"([^"]+)".*/\1/')
until curl -sf -H "Authorization: Bearer $BENCH_TOKEN" "$url$job" | grep -qE '"status":"(Succeeded|Failed|Cancelled)"'; do sleep 1; done
curl -sf -H "Authorization: Bearer $BENCH_TOKEN" "$url$job" | grep -q '"status":"Succeeded"'
ours_size=$(show_size "$work/data/repos/main" "$v1-$v2")
LOG_TO_MARK="$work/server.log"
ours_line=$(client_pull "$url/repos/main" "$work/client-ota")
lines_before=$(cat "$work/client-ota.mark")
ours_bytes=$(tail -n +$((lines_before + 1)) "$work/server.log" | grep -oE 'HTTP GET /repos/main/[^ ]+ +[0-9]{3} [0-9-]+ bytes' | awk '$5 > 0 {s += $5} END {print s+0}')
ours_loose=$(tail -n +$((lines_before + 1)) "$work/server.log" | grep -cE 'HTTP GET /repos/main/objects/[^ ]+\.(filez|dirtree|dirmeta) +200' || true)
held=$(grep -E 'commitmeta|[Hh]eld|[Rr]eleased' "$work/server.log" | tail -2 | tr '\n' ' ')
stop_otaserver

# (b) nginx + ostree's delta on a copy of the same repository
ref="$work/ref"; cp -a "$repo" "$ref"
ostree --repo="$ref" static-delta generate --from="$v1" --to="$v2" >/dev/null 2>&1
ostree --repo="$ref" summary -u
ref_size=$(show_size "$ref" "$v1-$v2")
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
  log_format bytes '\$request_uri \$status \$body_bytes_sent';
  access_log $work/nginx/access.log bytes;
  default_type application/octet-stream; sendfile on;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nginx_port; root $ref; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx"
ostree init --mode=bare-user --repo="$work/client-nginx" >/dev/null
ostree remote add --repo="$work/client-nginx" --no-gpg-verify r "http://127.0.0.1:$nginx_port"
ostree pull --repo="$work/client-nginx" --disable-static-deltas r bench/v1 >/dev/null
: > "$work/nginx/access.log"
ref_line=$(ostree pull --repo="$work/client-nginx" r bench/v2 | tail -1)
ostree fsck --repo="$work/client-nginx" >/dev/null
ref_bytes=$(awk '{s += $3} END {print s+0}' "$work/nginx/access.log")
ref_loose=$(grep -cE '^/objects/[^ ]+\.(filez|dirtree|dirmeta) 200' "$work/nginx/access.log" || true)

r1=$(echo "scale=3; $ours_bytes / $ours_size" | bc); r2=$(echo "scale=3; $ref_bytes / $ref_size" | bc)
cat <<MD
| server + delta | delta size (superblock + parts + fallbacks) | bytes sent for the v1 → v2 pull | ratio | loose objects fetched | client's own line |
|---|---:|---:|---:|---:|---|
| OtaServer + its delta (commitmeta hold on) | $ours_size | $ours_bytes | $r1 | $ours_loose | $ours_line |
| nginx + \`ostree static-delta generate\` | $ref_size | $ref_bytes | $r2 | $ref_loose | $ref_line |

OtaServer's hold: $held

pair: $v1 → $v2 (bench/out/repo); client: ostree $(ostree --version | awk '/Version/ {print $2}' | tr -d "'"), bare-user, on 127.0.0.1
MD
