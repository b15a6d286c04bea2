# Shared helpers for the benches: publish and start OtaServer on loopback with a fresh data folder.
# Usage: source bench/lib/server.sh; publish_otaserver OUTDIR; start_otaserver DATADIR PORT; stop_otaserver
BENCH_TOKEN="bench-admin-token"

publish_otaserver() { # $1 = output folder for server/ and otactl/
  local out="$1" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # With a runtime identifier, as the Dockerfile does: a ReadyToRun server and a Native AOT otactl (see the .csproj files).
  local rid; rid="linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')"
  dotnet publish "$root/src/OtaServer/OtaServer.csproj" -c Release -r "$rid" --self-contained false -o "$out/server" -v quiet >/dev/null
  dotnet publish "$root/src/otactl/otactl.csproj" -c Release -r "$rid" -o "$out/otactl" -v quiet >/dev/null # Native AOT
  OTACTL="$out/otactl/otactl"
  OTASERVER_DLL="$out/server/OtaServer.dll"
}

start_otaserver() { # $1 = data dir, $2 = port, $3 = log file
  mkdir -p "$1"
  OtaServer__DataDir="$1" Urls="http://127.0.0.1:$2" \
  OtaServer__Tokens__0__Name=bench OtaServer__Tokens__0__Token="$BENCH_TOKEN" \
  OtaServer__Tokens__0__Scopes__0=admin OtaServer__Tokens__0__Scopes__1=push OtaServer__Tokens__0__Scopes__2=read \
  DOTNET_gcServer=1 dotnet "$OTASERVER_DLL" >"$3" 2>&1 &
  OTASERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "OtaServer did not start; log:" >&2; cat "$3" >&2; return 1
}

stop_otaserver() {
  [ -n "${OTASERVER_PID:-}" ] && kill "$OTASERVER_PID" 2>/dev/null && wait "$OTASERVER_PID" 2>/dev/null || true
  OTASERVER_PID=""
}
