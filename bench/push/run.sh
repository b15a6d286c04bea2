#!/usr/bin/env bash
# `otactl push` of a Debian minbase root filesystem commit into an empty OtaServer, beside
# `ostree pull-local --untrusted` of the same commit into an empty archive repository, in one run.
# Usage: bench/push/run.sh            (ROUNDS=3 by default; the rootfs is built once and cached in bench/out/)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "$here/../out" && cd "$here/../out" && pwd)"
rounds="${ROUNDS:-3}"
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

# A source repo holding just that commit (so both tools read the same objects).
src="$work/src"
ostree init --mode=archive --repo="$src"
ostree pull-local --repo="$src" "$repo" bench/v1 >/dev/null

now() { date +%s.%N; }
declare -a push_times pull_times
# Each round writes into fresh folders and nothing is deleted until the end: ext4 skips inodes freed
# in the last 5-35 s when it allocates new ones (recently_deleted), so a round that follows a big
# `rm -rf` pays for it (seen with perf: most of the time in find_inode_bit/recently_deleted).
settle() { sync; sleep 1; }
for r in $(seq 1 "$rounds"); do
  settle
  start_otaserver "$work/data-$r" "$port" "$work/server.log"
  t0=$(now)
  "$OTACTL" push --server "http://127.0.0.1:$port" --token "$BENCH_TOKEN" "$src" bench/v1 >"$work/push.out"
  t1=$(now)
  stop_otaserver
  push_times+=("$(echo "$t1 - $t0" | bc)")

  ostree init --mode=archive --repo="$work/dst-$r"; settle
  t0=$(now)
  ostree pull-local --untrusted --repo="$work/dst-$r" "$src" bench/v1 >/dev/null
  t1=$(now)
  pull_times+=("$(echo "$t1 - $t0" | bc)")
  echo "round $r: otactl push ${push_times[-1]} s, ostree pull-local --untrusted ${pull_times[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp=$(median "${push_times[@]}"); ml=$(median "${pull_times[@]}")
ratio=$(echo "scale=2; $mp / $ml" | bc)
cat <<MD
| what | median of $rounds (s) |
|---|---:|
| \`otactl push\` into an empty OtaServer (verify + store every object) | $mp |
| \`ostree pull-local --untrusted\` into an empty archive repo | $ml |
| ratio (ours / ostree) | $ratio |

commit $commit: $objects tree entries, rootfs $size bytes; last push: $(tail -1 "$work/push.out")
MD
