#!/usr/bin/env bash
# Delta generator benchmark: OtaServer's DeltaCompiler vs `ostree static-delta generate` on the same
# pair of commits (two debootstrapped Debian bookworm root filesystems, see make-rootfs.sh).
# Measures wall time and peak RSS (/usr/bin/time -v) and the bytes a device downloads
# (superblock + parts + fallback .filez). Results: bench/out/deltas-results.md
# Usage (as root): bench/deltas/run.sh            env: THREADS, XZ_PRESET, BENCH_OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${BENCH_OUT:-$root/bench/out}"
mkdir -p "$out"; out="$(cd "$out" && pwd)"
export BENCH_OUT="$out"

[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
"$here/make-rootfs.sh"
repo="$out/repo"
from="$(ostree --repo="$repo" rev-parse bench/v1)"
to="$(ostree --repo="$repo" rev-parse bench/v2)"

dotnet build -c Release -v q -nologo "$here/DeltaBench" >/dev/null
bench=(dotnet "$here/DeltaBench/bin/Release/net10.0/DeltaBench.dll")

# Warm the page cache so that both generators read the objects from memory.
find "$repo/objects" -type f -print0 | xargs -0 cat > /dev/null

run_timed() { # name, command...
  local name="$1"; shift
  # Both generators run in their own session (so their own scheduler autogroup: with
  # kernel.sched_autogroup_enabled=1 a plain `nice` only ranks threads inside one session) at the same
  # raised priority (BENCH_NICE, default -15), so that other load on a shared machine disturbs the
  # comparison less. BENCH_NICE=0 measures them as ordinary processes.
  local prio="${BENCH_NICE:--15}"
  /usr/bin/time -v -o "$out/$name.time" setsid sh -c 'echo "$1" > /proc/$$/autogroup 2>/dev/null; p="$1"; shift; exec nice -n "$p" "$@"' \
    bench-prio "$prio" "$@" > "$out/$name.out" 2> "$out/$name.err"
  wall="$(grep 'Elapsed (wall clock)' "$out/$name.time" | awk '{print $NF}')"
  cpu="$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$out/$name.time")"
  rss="$(grep 'Maximum resident set size' "$out/$name.time" | awk '{print $NF}')"
  echo "$name: wall $wall, peak RSS ${rss} KiB" >&2
}
seconds() { awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }' <<<"$1"; }

load="$(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out/delta-ostree" "$out/delta-ota"
mkdir -p "$out/delta-ostree"
run_timed ostree ostree --repo="$repo" static-delta generate --from="$from" --to="$to" --filename="$out/delta-ostree/superblock"
ostree_wall="$(seconds "$wall")"; ostree_rss="$rss"; ostree_cpu="$cpu"

ota_args=(generate --repo "$repo" --from "$from" --to "$to" --out "$out/delta-ota")
[ -n "${THREADS:-}" ] && ota_args+=(--threads "$THREADS")
[ -n "${XZ_PRESET:-}" ] && ota_args+=(--xz-preset "$XZ_PRESET")
run_timed ota "${bench[@]}" "${ota_args[@]}"
ota_wall="$(seconds "$wall")"; ota_rss="$rss"; ota_cpu="$cpu"

ostree_m="$("${bench[@]}" measure --repo "$repo" --superblock "$out/delta-ostree/superblock")"
ota_m="$("${bench[@]}" measure --repo "$repo" --superblock "$out/delta-ota/superblock")"
get() { tr ' ' '\n' <<<"$1" | grep "^$2=" | cut -d= -f2; }
ostree_dl="$(get "$ostree_m" download)"; ota_dl="$(get "$ota_m" download)"

# The real client must read our delta.
ostree --repo="$repo" static-delta show --help >/dev/null
mkdir -p "$repo/deltas"
rel="$(python3 -c "import base64,sys;f=base64.b64encode(bytes.fromhex('$from')).decode().rstrip('=').replace('/','_');t=base64.b64encode(bytes.fromhex('$to')).decode().rstrip('=').replace('/','_');print(f'deltas/{f[:2]}/{f[2:]}-{t}')")"
rm -rf "$repo/$rel"; mkdir -p "$(dirname "$repo/$rel")"; cp -a "$out/delta-ota" "$repo/$rel"
ostree --repo="$repo" static-delta show "$from-$to" > "$out/ota-show.txt"
rm -rf "$repo/$rel"

# The real client applies a self-contained version of our delta (fallbacks need HTTP) and fsck passes.
if [ "${VERIFY:-1}" = 1 ]; then
  v="$out/verify"; rm -rf "$v"; mkdir -p "$v"
  "${bench[@]}" generate --repo "$repo" --from "$from" --to "$to" --out "$v/delta" --min-fallback-size 0 > /dev/null 2>&1
  ostree init --mode=bare-user --repo="$v/client"
  ostree --repo="$v/client" pull-local "$repo" "$from" > /dev/null
  ostree --repo="$v/client" static-delta apply-offline "$v/delta/superblock"
  verified="$(ostree --repo="$v/client" fsck 2>&1 | tail -1)"
  rm -rf "$v"
else
  verified="skipped (VERIFY=0)"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo "| | ostree static-delta generate | OtaServer DeltaCompiler | ratio (ours/ostree) | target |"
  echo "|---|---|---|---|---|"
  echo "| wall time (s) | $ostree_wall | $ota_wall | $(ratio "$ota_wall" "$ostree_wall") | ≤ 0.5 |"
  echo "| CPU time, user+sys (s) | $ostree_cpu | $ota_cpu | $(ratio "$ota_cpu" "$ostree_cpu") | |"
  echo "| peak RSS (MiB) | $((ostree_rss / 1024)) | $((ota_rss / 1024)) | $(ratio "$ota_rss" "$ostree_rss") | ≤ 1.0 |"
  echo "| download bytes | $ostree_dl | $ota_dl | $(ratio "$ota_dl" "$ostree_dl") | ≤ 1.0 |"
  echo
  echo "ostree: $ostree_m"
  echo
  echo "ours:   $ota_m"
  echo
  echo "ours (generator stats): $(cat "$out/ota.out")"
  echo
  echo "ostree verbose summary: $(grep -E '^(modified|new reachable|rollsum for [0-9]+/|bsdiff=)' "$out/ostree.err" | tr '\n' ';')"
  echo "client check (apply-offline of the self-contained delta into a bare-user repo holding v1, then fsck): $verified"
  echo
  echo "ostree fallbacks: $(grep -c '^fallback for' "$out/ostree.err" || true)"
  echo
  echo "load average before the runs: $load; priority: nice ${BENCH_NICE:--15}"
  echo "commits: from $from to $to; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
} | tee "$out/deltas-results.md"
