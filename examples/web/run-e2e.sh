#!/usr/bin/env bash
# The typed client example end to end, as CI runs it (.ci/run):
#   1. npm ci from the lock file;
#   2. the codegen, into a temporary folder, must equal the committed src/gql/ (a schema change
#      that breaks an operation fails here or at the type check; a changed document changes
#      its hash and the manifest);
#   3. tsc type-checks and compiles the client (dist/);
#   4. the server, built from this checkout, starts in development mode on a free loopback port
#      with its own embedded PostgreSQL in a temporary DATA_DIR and
#      TRUSTED_DOCUMENTS_FILE=src/gql/persisted-documents.json (only the example's documents run);
#   5. the client (dist/run.js) mints tokens with `recert token` and runs the dashboard, linking
#      and a renewal attempt by document hashes only, asserting the results;
#   6. the server is stopped by its PID.
# Exits non-zero when any step fails. Needs Go, Node 20+ with npm, and the PostgreSQL server
# binaries (as `go run .` does).
set -euo pipefail
web="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$web/../.." && pwd)"
cd "$web"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    # The server stops its embedded PostgreSQL on SIGTERM; give it time on a busy machine.
    for _ in $(seq 1 120); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "server $server_pid did not stop in 60 s; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "-- codegen: the committed src/gql/ is the generated one"
if ! CODEGEN_OUT="$work/gql/" npx graphql-codegen --config codegen.ts >"$work/codegen.log" 2>&1; then
  cat "$work/codegen.log" >&2
  echo "graphql-codegen failed: an operation in src/operations.ts does not fit schema.graphqls" >&2
  exit 1
fi
if ! diff -r -u src/gql "$work/gql"; then
  echo "src/gql/ differs from what graphql-codegen generates from schema.graphqls and src/operations.ts:" >&2
  echo "run 'npm run codegen' in examples/web and commit the result (or fix the operations)" >&2
  exit 1
fi

echo "-- tsc: type-check and compile"
rm -rf dist
npx tsc

echo "-- server: trusted-documents mode"
(cd "$root" && go build -o "$work/recert" .)
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export DATA_DIR="$work/data"
APP_ENV=development LISTEN_ADDR="127.0.0.1:$port" LOG_LEVEL=warn REMINDER_INTERVAL=0 \
  TRUSTED_DOCUMENTS_FILE="$web/src/gql/persisted-documents.json" \
  "$work/recert" >"$work/server.log" 2>&1 &
server_pid=$!
# The first start creates the embedded database, migrates and loads the catalog: allow 5 minutes.
ready=""
for _ in $(seq 1 600); do
  if curl -fsS --max-time 5 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "the server did not become ready; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

echo "-- client: dashboard, linking, renewal attempt by document hashes"
if ! RECERT_URL="http://127.0.0.1:$port/graphql" RECERT_COMMAND="$work/recert" RECERT_TRUSTED=1 node dist/run.js; then
  echo "server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
