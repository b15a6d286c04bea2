#!/usr/bin/env bash
# `otactl push` of a Debian minbase root filesystem commit into an empty OtaServer repository, beside
# `ostree pull-local --untrusted` of the same commit into an empty archive repository, in one run.
# Usage: bench/push/run.sh            (ROUNDS=5 by default; the rootfs is built once and cached in bench/out/)
#
# Each round, interleaved, in fresh folders:
#   warm   a server that has already taken three small pushes (the /etc of the same rootfs, into three other
#          repositories), as a server that runs for weeks has: its code is compiled and tiered up. This is the
#          figure compared with the target, like the warm-up before every wrk run in bench/serving.
#   cold   a server started just before the push: the first upload after a start also pays for JIT and tier-up.
#   ostree `ostree pull-local --untrusted` into an empty archive repository.
# Both tools read the same source repository; server and otactl are published ReadyToRun (bench/lib/server.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "$here/../out" && cd "$here/../out" && pwd)"
rounds="${ROUNDS:-5}"
port="${PORT:-18090}"
source "$here/../lib/server.sh"

bash "$here/../deltas/make-rootfs.sh" >/dev/null
repo="$out/repo"
commit="$(ostree --repo="$repo" rev-parse bench/v1)"
objects="$(ostree --repo="$repo" ls -R bench/v1 | wc -l)"
size="$(du -sb "$out/rootfs-v1" | cut -f1)"

work="$(mktemp -d /tmp/ota-bench-push.XXXXXX)"
trap 'stop_otaserver; rm -rf "$work"' EXIT
publish_otaserver "$work"

# A source repo holding just that commit (so both tools read the same objects), and the warm-up commit.
src="$work/src"
ostree init --mode=archive --repo="$src"
ostree pull-local --repo="$src" "$repo" bench/v1 >/dev/null
warmsrc="$work/warmsrc"
ostree init --mode=archive --repo="$warmsrc"
ostree --repo="$warmsrc" commit -b warm --tree=dir="$out/rootfs-v1/etc" >/dev/null

now() { date +%s.%N; }
# Nothing is deleted until the end: ext4 skips inodes freed in the last seconds when it allocates new ones
# (recently_deleted), so a round that follows a big `rm -rf` pays for it (seen with perf).
settle() { sync; sleep 1; }
push() { # $1 = repository on the server; prints the seconds taken
  local t0 t1
  t0=$(now)
  "$OTACTL" push --server "http://127.0.0.1:$port" --token "$BENCH_TOKEN" --repo "$1" "${@:2}" >"$work/push.out"
  t1=$(now)
  echo "$t1 - $t0" | bc
}
declare -a warm_times cold_times pull_times
export OtaServer__Repositories__0=main OtaServer__Repositories__1=warm1 OtaServer__Repositories__2=warm2 OtaServer__Repositories__3=warm3
for r in $(seq 1 "$rounds"); do
  start_otaserver "$work/data-warm-$r" "$port" "$work/server.log"
  for w in 1 2 3; do push "warm$w" "$warmsrc" warm >/dev/null; done
  settle
  warm_times+=("$(push main "$src" bench/v1)")
  stop_otaserver

  start_otaserver "$work/data-cold-$r" "$port" "$work/server.log"
  settle
  cold_times+=("$(push main "$src" bench/v1)")
  stop_otaserver

  ostree init --mode=archive --repo="$work/dst-$r"; settle
  t0=$(now)
  ostree pull-local --untrusted --repo="$work/dst-$r" "$src" bench/v1 >/dev/null
  t1=$(now)
  pull_times+=("$(echo "$t1 - $t0" | bc)")
  echo "round $r: otactl push warm ${warm_times[-1]} s, cold ${cold_times[-1]} s; ostree pull-local --untrusted ${pull_times[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${warm_times[@]}"); mc=$(median "${cold_times[@]}"); ml=$(median "${pull_times[@]}")
cat <<MD
| what | median of $rounds (s) | ratio to ostree |
|---|---:|---:|
| \`otactl push\` into an empty repository of a running (warm) OtaServer | $mw | $(echo "scale=2; $mw / $ml" | bc) |
| \`otactl push\` into a server started just before (cold) | $mc | $(echo "scale=2; $mc / $ml" | bc) |
| \`ostree pull-local --untrusted\` into an empty archive repo | $ml | 1 |

commit $commit: $objects tree entries, rootfs $size bytes; last push: $(tail -1 "$work/push.out")
load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs
MD
