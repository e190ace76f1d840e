#!/usr/bin/env bash
# Runs the Postman collection with newman.
#
#   test/postman/run.sh               build the server, start it on a free port
#                                     (temp data dir, rate limits off), run the
#                                     collection twice, then the collection
#                                     Postman's converter makes of /openapi.json
#                                     (import.mjs), stop the server
#   test/postman/run.sh BASE_URL      run against a server that is already up
#   test/postman/run.sh --document    start a server as above, then rewrite each
#                                     request's description and saved example
#                                     answer from one run (document.mjs)
#
# Environment:
#   TIKTOK_CONFIG    start the server with --config "$TIKTOK_CONFIG" (e.g. the
#                    full-stack config with MySQL, Redis, RabbitMQ) instead of
#                    the embedded default (SQLite, local media)
#   POSTMAN_RUNS     how many times to run the collection (default 2: fresh,
#                    then again on the same server)
#   NEWMAN_ARGS      extra newman arguments, e.g.
#                    "--reporters cli,junit --reporter-junit-export out.xml"
#   HEALTH_TIMEOUT   seconds to wait for /healthz (default 60)
#
# Exits non-zero when any assertion of any run fails. Nothing prompts and
# every wait is bounded.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
document=""
if [ "${1:-}" = "--document" ]; then
  document=1
  shift
fi
base_url="${1:-}"
runs="${POSTMAN_RUNS:-2}"
health_timeout="${HEALTH_TIMEOUT:-60}"

log() { echo "postman: $*" >&2; }

command -v node >/dev/null || { log "node is required (Node 18 or later)"; exit 2; }
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
command -v timeout >/dev/null || timeout() { shift; "$@"; }

# Resolve a relative TIKTOK_CONFIG against the caller's directory.
config=""
if [ -n "${TIKTOK_CONFIG:-}" ]; then
  [ -f "$TIKTOK_CONFIG" ] || { log "TIKTOK_CONFIG: no such file: $TIKTOK_CONFIG"; exit 2; }
  config="$(cd "$(dirname "$TIKTOK_CONFIG")" && pwd)/$(basename "$TIKTOK_CONFIG")"
fi

cd "$here"
if [ ! -d node_modules/newman ]; then
  log "installing newman (npm ci)"
  timeout 600 npm ci --no-audit --no-fund
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tiktok-postman.XXXXXX")"
server_pid=""

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # The server drains for up to its shutdown timeout; do not wait forever.
    for _ in $(seq 40); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      log "server did not stop in 20 s, killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

cleanup() {
  local rc=$?
  stop_server
  if [ "$rc" -ne 0 ] && [ -f "$tmp/server.out" ]; then
    log "last lines of the server output ($tmp/server.out):"
    tail -n 30 "$tmp/server.out" >&2 || true
    rm -f "$tmp/tiktok-server"
    log "server logs kept in $tmp"
    exit "$rc"
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

random_secret() {
  node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))'
}

if [ -z "$base_url" ]; then
  log "building the server"
  (cd "$root" && timeout 600 go build -o "$tmp/tiktok-server" ./cmd/tiktok-server)

  port="$(free_port)"
  base_url="http://127.0.0.1:$port"
  args=()
  if [ -n "$config" ]; then
    args=(--config "$config")
    # A configured secret may be the refused sample; a throwaway server
    # gets a random one unless the caller chose one.
    export TIKTOK_JWT_SECRET="${TIKTOK_JWT_SECRET:-$(random_secret)}"
    log "starting the server with --config $config on $base_url"
  else
    log "starting the server on the embedded default on $base_url"
  fi
  mkdir -p "$tmp/data"
  # The address and public URL must be ours (media URLs point at them);
  # the rest defaults to the temp dir unless the caller set it.
  (
    cd "$root"
    export TIKTOK_SERVER_ADDR="127.0.0.1:$port"
    export TIKTOK_SERVER_METRICS_ADDR="${TIKTOK_SERVER_METRICS_ADDR:-127.0.0.1:0}"
    export TIKTOK_SERVER_PUBLIC_URL="$base_url"
    export TIKTOK_DATA_DIR="${TIKTOK_DATA_DIR:-$tmp/data}"
    export TIKTOK_STORAGE_LOCAL_DIR="${TIKTOK_STORAGE_LOCAL_DIR:-$tmp/data/media}"
    export TIKTOK_LOG_FILE="${TIKTOK_LOG_FILE:-$tmp/server.log}"
    export TIKTOK_RATELIMIT_ENABLED="${TIKTOK_RATELIMIT_ENABLED:-false}"
    exec "$tmp/tiktok-server" "${args[@]}"
  ) >"$tmp/server.out" 2>&1 &
  server_pid=$!

  log "waiting up to ${health_timeout} s for $base_url/healthz"
  deadline=$((SECONDS + health_timeout))
  until node -e '
const http = require("http");
const req = http.get(process.argv[1], { timeout: 2000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));
req.on("timeout", () => req.destroy());
req.on("error", () => process.exit(1));' "$base_url/healthz" 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "the server exited before it was healthy"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the server was not healthy after ${health_timeout} s"
      exit 1
    fi
    sleep 0.5
  done
fi

if [ -n "$document" ]; then
  timeout 900 node document.mjs "$base_url"
  exit 0
fi

failed=0
for i in $(seq "$runs"); do
  log "run $i of $runs against $base_url"
  # shellcheck disable=SC2086 # NEWMAN_ARGS is a list of words on purpose
  if ! timeout 900 npx --no-install newman run tiktok.postman_collection.json \
      --environment local.postman_environment.json \
      --env-var "baseUrl=$base_url" \
      --working-dir "$here" \
      --reporters cli \
      --timeout-request 60000 \
      --timeout 600000 \
      --color off \
      ${NEWMAN_ARGS:-}; then
    log "run $i failed"
    failed=1
  fi
done

# The spec, imported the way the Postman app imports it, must give a
# working collection too.
log "importing $base_url/openapi.json with Postman's converter and running it"
if ! timeout 300 node import.mjs "$base_url"; then
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  log "FAILED"
  exit 1
fi
log "all runs passed"
