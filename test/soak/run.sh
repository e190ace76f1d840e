#!/usr/bin/env bash
# Soak: mixed traffic for SOAK_DURATION (default 10m) against a freshly
# built server on the local (or TIKTOK_TEST_*) MySQL, Redis and RabbitMQ,
# with its own database, key prefix and queue, removed afterwards. Prints a
# table of /metrics samples and fails when goroutines, database connections
# or resident memory keep growing after warm-up.
#
#   SOAK_DURATION=60s test/soak/run.sh
#   test/soak/run.sh -rate 300 -clients 32 -report soak.md
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
export SOAK_DURATION=${SOAK_DURATION:-10m}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The production build: no race detector, as it would run on the VM.
CGO_ENABLED=0 $GO build -trimpath -o "$dir/tiktok-server" ./cmd/tiktok-server
$GO build -o "$dir/soak" ./test/soak
"$dir/soak" -binary "$dir/tiktok-server" "$@"
