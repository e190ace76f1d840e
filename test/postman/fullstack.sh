#!/usr/bin/env bash
# Runs the Postman collection against the full stack: a fresh MySQL
# database, Redis under a fresh key prefix and RabbitMQ with its own queue
# names, all dropped afterwards. Addresses come from the same TIKTOK_TEST_*
# variables as the Go tests, with the local defaults.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=../lib/mysql.sh
. "$here/../lib/mysql.sh"
redis_addr="${TIKTOK_TEST_REDIS_ADDR:-127.0.0.1:6379}"
amqp_url="${TIKTOK_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"

suffix="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
db="tiktok_postman_$suffix"

sql "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
cleanup() {
  sql "DROP DATABASE IF EXISTS \`$db\`" || true
  # Keys expire by themselves; drop them now all the same.
  timeout 30 redis-cli -u "redis://$redis_addr" --scan --pattern "postman:$suffix:*" \
    | xargs -r timeout 30 redis-cli -u "redis://$redis_addr" del >/dev/null || true
  if command -v rabbitmqctl >/dev/null; then
    for q in $(timeout 30 rabbitmqctl -q list_queues name 2>/dev/null | grep "^postman\.cache\.$suffix" || true); do
      timeout 30 rabbitmqctl -q delete_queue "$q" >/dev/null || true
    done
  fi
}
trap cleanup EXIT

export TIKTOK_CONFIG="$root/.config/config.fullstack.yaml"
TIKTOK_DATABASE_DSN="$(dsn_for "$db")"
export TIKTOK_DATABASE_DSN
export TIKTOK_REDIS_ADDR="$redis_addr" TIKTOK_REDIS_PREFIX="postman:$suffix:"
export TIKTOK_RABBITMQ_URL="$amqp_url" TIKTOK_RABBITMQ_QUEUE="postman.cache.$suffix"
"$here/run.sh"
