#!/usr/bin/env bash
# Runs the server on its embedded defaults: ./data (repositories, SQLite store, admin token), port 8080.
set -euo pipefail
cd "$(dirname "$0")/.."
# `dotnet run` starts the server in the project folder; keep the data next to this checkout instead.
export OtaServer__DataDir="${OtaServer__DataDir:-$PWD/data}"
exec dotnet run --project src/OtaServer -c Release -- "$@"
