#!/usr/bin/env bash
# Runs the server on its embedded defaults: ./data (repositories, SQLite store, admin token), port 8080.
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run --project src/OtaServer -c Release -- "$@"
