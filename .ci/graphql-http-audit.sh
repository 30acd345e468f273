#!/usr/bin/env bash
# Starts the server (development mode, its own embedded PostgreSQL) on a loopback port and runs
# the graphql-http audit suite against /graphql. Fails on any MUST failure and on any SHOULD
# failure not accepted in .ci/graphql-http-audit.mjs (and README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/recert" .
(cd "$work" && npm install --silent --no-audit --no-fund graphql-http@1.23.1 graphql@16.15.0 >/dev/null)
cp .ci/graphql-http-audit.mjs "$work/"

port=$((20000 + RANDOM % 20000))
# The audit sends ~60 requests at once from one address: lift the anonymous burst for it.
DATA_DIR="$work/data" LISTEN_ADDR="127.0.0.1:$port" RATE_LIMIT_ANON_BURST=1000 LOG_LEVEL=warn \
  "$work/recert" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log"; exit 1; fi
  sleep 0.5
done
(cd "$work" && node graphql-http-audit.mjs "http://127.0.0.1:$port/graphql")
