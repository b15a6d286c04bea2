#!/usr/bin/env bash
# Manual benchmark of the static-delta algorithms (not part of the test suite: no timing asserts there).
#   bench/deltas/bsdiff-bench.sh [SIZE_MB]   (default 100)
# Builds a synthetic old/new pair from /usr/lib shared objects (new = old with inserts, deletions,
# edits), then reports bsdiff wall/CPU time and peak RSS (GNU time), and xz preset-8 throughput.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
size="${1:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet build -c Release "$here/AlgoBench.csproj" -v quiet -nologo >/dev/null
bin="$here/bin/Release/net10.0/AlgoBench"
"$bin" make-synthetic "$size" "$work"
echo "== bsdiff ${size} MB"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, max RSS %M KiB" "$bin" bsdiff "$work/old.bin" "$work/new.bin"
echo "== rollsum ${size} MB"
"$bin" rollsum "$work/old.bin" "$work/new.bin"
head -c 32000000 "$work/old.bin" > "$work/part32.bin"
echo "== xz preset 8 on a 32 MB part of /usr/lib binaries"
"$bin" xz "$work/part32.bin" 1
"$bin" xz "$work/part32.bin" 2
"$bin" xz "$work/part32.bin" 2 8
echo "== xz CLI reference"
/usr/bin/time -f "xz -8 -T1: wall %e s, user %U s" xz -8 -T1 -c "$work/part32.bin" | wc -c
