#!/usr/bin/env bash
# Browser end-to-end tests of the web client. Builds the server, starts it
# on a free port with a fresh data directory (embedded default: SQLite,
# local media), runs the Playwright tests in Debian's Chromium, stops the
# server. Exits non-zero when anything fails.
#
#   bash test/web/run.sh
#
# SERVER_BIN=/path/to/tiktok-server skips the build. Screenshots land in
# test/web/artifacts/; WEB_UPDATE_SCREENSHOT=1 also refreshes
# test/web/screenshot-feed.png.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
  echo "run.sh: installing chromium"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  timeout 300 $sudo apt-get update -qq
  timeout 900 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  timeout 300 npm ci --no-audit --no-fund
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" != 0 ] && [ -f "$work/server.log" ]; then
    mkdir -p "$here/artifacts"
    cp "$work/server.log" "$here/artifacts/server.log"
    echo "run.sh: failed; server log in test/web/artifacts/server.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

bin="${SERVER_BIN:-}"
if [ -z "$bin" ]; then
  bin="$work/tiktok-server"
  (cd "$root" && go build -o "$bin" ./cmd/tiktok-server)
fi

port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
base="http://127.0.0.1:$port"
mkdir -p "$work/data"
TIKTOK_SERVER_ADDR="127.0.0.1:$port" \
TIKTOK_SERVER_METRICS_ADDR="127.0.0.1:0" \
TIKTOK_DATA_DIR="$work/data" \
TIKTOK_LOG_FILE="" \
TIKTOK_RATELIMIT_ENABLED=false \
  "$bin" >"$work/server.log" 2>&1 &
server_pid=$!

# probe prints the HTTP status of a GET, 000 when nothing answers.
probe() {
  node -e 'fetch(process.argv[1]).then((r) => console.log(r.status), () => console.log("000"))' "$1"
}

ready=""
for _ in $(seq 1 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: the server exited during start-up" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  if [ "$(probe "$base/healthz")" = 200 ]; then ready=1; break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "run.sh: the server did not answer /healthz within 20 s" >&2
  exit 1
fi
if [ "$(probe "$base/")" != 200 ]; then
  echo "run.sh: GET / is not the web client: routes.Deps needs Web: webui.Handler() in cmd/tiktok-server/main.go" >&2
  exit 1
fi

WEB_BASE_URL="$base" WEB_SAMPLE_VIDEO="$root/pkg/media/sample.mp4" \
  timeout 600 node --test --test-concurrency=1 "$here/e2e.test.mjs"
