#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with the .NET SDK.
# Installs what the tests need (the real ostree client is the judge of our output).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ostree >/dev/null 2>&1 || need+=(ostree)
[ -e /usr/lib/x86_64-linux-gnu/liblzma.so.5 ] || [ -e /lib/x86_64-linux-gnu/liblzma.so.5 ] || ldconfig -p | grep -q liblzma.so.5 || need+=(liblzma5)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)          # the XZ tests cross-check with the xz CLI
command -v python3 >/dev/null 2>&1 || need+=(python3)      # a plain static HTTP server for compiler pull tests
command -v gpg >/dev/null 2>&1 || need+=(gnupg)          # an independent judge: signs commits and checks exported keys in the signing tests
command -v curl >/dev/null 2>&1 || need+=(curl)            # the README tour (scripts/tour-test.sh)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)    # nginx -t of deploy/nginx-cdn.conf (scripts/tour-test.sh)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)  # a throwaway cluster for the PostgreSQL store contract tests
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p TestResults
set +e
dotnet test OtaServer.sln -c Release --logger "console;verbosity=normal" 2>&1 | tee TestResults/test-output.txt
rc=${PIPESTATUS[0]}
# The README's tour, as written, against a fresh server (uses the Release server just built).
./scripts/tour-test.sh 2>&1 | grep -v ' INF\] ' | tee -a TestResults/test-output.txt
tour=${PIPESTATUS[0]}
[ "$tour" -eq 0 ] || rc=1
set -e
count() { { grep -Eo "^ +$1: +[0-9]+" TestResults/test-output.txt || true; } | awk '{s+=$2} END {print s+0}'; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
