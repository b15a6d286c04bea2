#!/usr/bin/env bash
# Runs the README's tour (the first ```bash block after "## A five-minute tour") as written, against a fresh
# server on a free loopback port with its own data folder, and checks what it printed.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tour="$work/tour.sh"
awk '/^## A five-minute tour/{t=1} t&&/^```bash/{b=1;next} b&&/^```/{exit} b' README.md > "$tour"
[ -s "$tour" ] || { echo "tour-test: no tour block found in README.md" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export OTA_PORT=$port OtaServer__DataDir="$work/data"
unset OTA_SERVER OTA_TOKEN
start=$(date +%s)
set +e
timeout 300 bash -e -o pipefail "$tour" >"$work/out" 2>"$work/err"
rc=$?
set -e
fail() { echo "tour-test: $*" >&2; echo "--- stdout"; cat "$work/out"; echo "--- stderr"; tail -40 "$work/err"; exit 1; }
[ "$rc" -eq 0 ] || fail "the tour exited $rc"
grep -q "^main -> [0-9a-f]\{64\} " "$work/out" || fail "push did not report the ref move"
grep -q "^Target 1 created for [0-9a-f]\{64\} (tags: beta,master)" "$work/out" || fail "push --version 1 -T master,beta did not create the target"
grep -q "mode=archive-z2" "$work/out" || fail "the repository config was not served"
grep -qi "^etag:" "$work/out" || fail "the summary HEAD had no ETag"
grep -q '"name":"main"' "$work/out" || fail "the refs API did not list main"
grep -qx "hello v1" "$work/out" || fail "the device checkout does not say 'hello v1'"
# The tour stopped the server: the port is free again.
if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then fail "the server still answers after 'kill %1'"; fi
# The Docker image's health check, run with the same /bin/sh, against a server on a non-default port.
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
Urls="http://0.0.0.0:$port2" OtaServer__DataDir="$work/data2" dotnet src/OtaServer/bin/Release/net10.0/OtaServer.dll >"$work/server2" 2>&1 &
server2=$!
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port2/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
Urls="http://0.0.0.0:$port2" /bin/sh deploy/healthcheck.sh || { kill "$server2"; fail "deploy/healthcheck.sh failed against a healthy server on :$port2"; }
kill "$server2"; wait "$server2" 2>/dev/null || true
if Urls="http://0.0.0.0:$port2" /bin/sh deploy/healthcheck.sh 2>/dev/null; then fail "deploy/healthcheck.sh passed with no server"; fi
# deploy/nginx-cdn.conf as documented: included in nginx's http {} block (as /etc/nginx/conf.d/ does), nginx -t.
printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n    include %s/deploy/nginx-cdn.conf;\n}\n' "$work" "$PWD" > "$work/nginx.conf"
nginx -t -c "$work/nginx.conf" 2>"$work/nginx-t" || { cat "$work/nginx-t" >&2; fail "nginx -t rejects deploy/nginx-cdn.conf"; }
echo "tour-test: README tour health check and nginx -t passed in $(( $(date +%s) - start )) s"
