#!/usr/bin/env bash
# make bench: seeds a data set through the project's own store, starts the
# real binary on the full stack (MySQL, Redis, RabbitMQ) and on the
# embedded default (SQLite), drives wrk over many users and ids, runs a
# bare gin server replaying the captured answers as the ceiling, checks
# every counter against its rows, and prints the results table (also in
# test/bench/results/latest.md).
#
# Settings (environment):
#   BENCH_DURATION     measured seconds per run        (default 15s)
#   BENCH_WARM         warm-up per run                 (default 3s)
#   BENCH_CONNECTIONS  wrk connections                 (default 64)
#   BENCH_THREADS      wrk threads                     (default 2)
#   BENCH_QUICK=1      a smoke run for CI: 3 s runs, a smaller data set
#   BENCH_STRICT=1     also fail when a speed target is missed
#   BENCH_KEEP=1       keep the work directory (logs, request lists)
#   BENCH_ROUTES       full-stack routes to drive (default: all)
#   BENCH_EMBEDDED=0   skip the embedded default
#   BENCH_SERVER_BIN   a prebuilt server binary instead of building one
#   BENCH_SERVER_ENV   extra KEY=VALUE words for the server's environment
#   BENCH_PROFILE_URL  a pprof CPU profile URL of the server: every measured
#                      run of the server is profiled into results/profiles/
#   TIKTOK_TEST_MYSQL_DSN, TIKTOK_TEST_REDIS_ADDR,
#   TIKTOK_TEST_AMQP_URL   the services (local defaults)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

dur="${BENCH_DURATION:-15s}"
warm="${BENCH_WARM:-3s}"
conns="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-2}"
# The data set of the issue: 1,000 users, 3,000 videos over 30 days,
# 20,000 likes, 5,000 follows (1,000 of them answering another), 10,000
# comments; 256 users logged in.
sizes=(-users 1000 -videos 3000 -likes 20000 -follows 5000 -mutual 1000 -comments 10000 -days 30)
pool=256
lines=4096
if [[ "${BENCH_QUICK:-}" == 1 ]]; then
  dur="${BENCH_DURATION:-3s}"
  warm="${BENCH_WARM:-1s}"
  sizes=(-users 200 -videos 600 -likes 4000 -follows 1000 -mutual 200 -comments 2000 -days 30)
  pool=64
  lines=1024
fi
secs="${dur%s}"

# shellcheck source=../lib/mysql.sh
. "$here/../lib/mysql.sh"
redis_addr="${TIKTOK_TEST_REDIS_ADDR:-127.0.0.1:6379}"
amqp_url="${TIKTOK_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"

for tool in wrk curl mysql redis-cli go; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required (apt-get install -y wrk curl mariadb-client redis-tools)" >&2; exit 1; }
done

suffix="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
db="tiktok_bench_$suffix"
prefix="bench:$suffix:"
queue="bench.cache.$suffix"
work="$(mktemp -d "${TMPDIR:-/tmp}/tiktok-bench.XXXXXX")"
results_dir="$here/results"
mkdir -p "$results_dir"
results="$work/results.txt"
: >"$results"

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }

pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    timeout 20 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  done
  sql "DROP DATABASE IF EXISTS \`$db\`" >/dev/null 2>&1 || true
  timeout 30 redis-cli -u "redis://$redis_addr" --scan --pattern "$prefix*" 2>/dev/null \
    | xargs -r timeout 30 redis-cli -u "redis://$redis_addr" del >/dev/null 2>&1 || true
  if command -v rabbitmqctl >/dev/null; then
    for q in $(timeout 30 rabbitmqctl -q list_queues name 2>/dev/null | grep "^$queue" || true); do
      timeout 30 rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
    done
  fi
  if [[ "${BENCH_KEEP:-}" == 1 || $rc -ne 0 ]]; then
    log "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building the server and the harness"
(cd "$root" && go build -o "$work/benchtool" ./test/bench/tool)
if [[ -n "${BENCH_SERVER_BIN:-}" ]]; then
  cp "$BENCH_SERVER_BIN" "$work/tiktok-server"
else
  (cd "$root" && go build -o "$work/tiktok-server" ./cmd/tiktok-server)
fi
tool="$work/benchtool"

# Every process gets a clean environment and runs in the work directory,
# so neither the caller's TIKTOK_* variables nor the repository's
# .config/config.yaml can change what is measured.
base_env=(PATH="$PATH" HOME="${HOME:-/tmp}" TIKTOK_LOG_LEVEL=warn TIKTOK_RATELIMIT_ENABLED=false TIKTOK_SEED_DEMO=false)
read -r -a extra_env <<<"${BENCH_SERVER_ENV:-}"
full_env=("${base_env[@]}" TIKTOK_DATA_DIR="$work/full"
  TIKTOK_DATABASE_DRIVER=mysql
  TIKTOK_DATABASE_DSN="$(dsn_for "$db")"
  TIKTOK_JWT_SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  TIKTOK_REDIS_ADDR="$redis_addr" TIKTOK_REDIS_PREFIX="$prefix"
  TIKTOK_RABBITMQ_URL="$amqp_url" TIKTOK_RABBITMQ_QUEUE="$queue")
emb_env=("${base_env[@]}" TIKTOK_DATA_DIR="$work/embedded" TIKTOK_DATABASE_DRIVER=sqlite)

in_work() { (cd "$work" && env -i "$@"); }

server_pid=""
sampler_pid=""
# start_server NAME ENV...: starts the binary and waits for /healthz.
start_server() {
  local name=$1
  shift
  local port
  port="$("$tool" freeport)"
  base="http://127.0.0.1:$port"
  (cd "$work" && exec env -i "$@" "${extra_env[@]}" TIKTOK_SERVER_ADDR="127.0.0.1:$port" TIKTOK_SERVER_METRICS_ADDR=127.0.0.1:0 "$work/tiktok-server") >"$work/$name-server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 120); do
    if curl -sf -o /dev/null "$base/healthz"; then
      # Peak memory is read from VmHWM at the end; the samples show the
      # curve over the runs.
      (while kill -0 "$server_pid" 2>/dev/null; do
        grep VmRSS "/proc/$server_pid/status" 2>/dev/null || true
        sleep 1
      done) >"$work/$name-rss.txt" &
      sampler_pid=$!
      pids+=("$sampler_pid")
      log "$name server up at $base (pid $server_pid)"
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
  done
  cat "$work/$name-server.log" >&2
  log "$name server did not start"
  return 1
}

# stop_server: prints the peak RSS in KiB and stops the server.
peak_kib=0
stop_server() {
  peak_kib="$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")"
  kill "$server_pid"
  timeout 30 tail --pid="$server_pid" -f /dev/null || kill -9 "$server_pid"
  kill "$sampler_pid" 2>/dev/null || true
  local pattern='"level":"(error|dpanic|panic|fatal)"|	(ERROR|DPANIC|PANIC|FATAL)	'
  local canceled others
  canceled="$(grep -E "$pattern" "$work/$1-server.log" | grep -Ec 'context canceled|interrupted \(9\)' || true)"
  others="$(grep -E "$pattern" "$work/$1-server.log" | grep -Evc 'context canceled|interrupted \(9\)' || true)"
  if [[ "$canceled" -gt 0 ]]; then
    log "the $1 server logged $canceled errors for requests whose client left (wrk stopping)"
  fi
  if [[ "$others" -gt 0 ]]; then
    log "the $1 server logged $others other errors, e.g.:"
    grep -E "$pattern" "$work/$1-server.log" | grep -Ev 'context canceled|interrupted \(9\)' | head -5 >&2 || true
  fi
  return 0
}

# drive STACK ROUTE DIR URL: a warm-up run, then the measured run.
drive() {
  local stack=$1 route=$2 dir=$3 url=$4
  local script args
  case "$route" in
    like)   script=flip.lua; args=("$dir/like.pairs" video_id /douyin/favorite/action/ "$threads") ;;
    follow) script=flip.lua; args=("$dir/follow.pairs" to_user_id /douyin/relation/action/ "$threads") ;;
    *)      script=read.lua; args=("$dir/$route.txt") ;;
  esac
  local out="$work/wrk-$stack-$route.txt"
  timeout $((${warm%s} + 60)) wrk -t"$threads" -c"$conns" -d"$warm" --timeout 5s -s "$here/lua/$script" "$url" \
    -- "${args[@]}" "$work/warm.final" >"$out.warm" 2>&1
  if [[ "$script" == flip.lua && "$stack" != ceiling ]]; then
    # The warm-up flipped pairs: read their states again, after the
    # requests still in flight have landed.
    sleep 1
    in_work "${stack_env[@]}" "$tool" pairs -dir "$dir" >/dev/null
  fi
  local final="$work/warm.final"
  if [[ "$stack" != ceiling ]]; then final="$dir/$route.final"; fi
  local profiler=""
  if [[ -n "${BENCH_PROFILE_URL:-}" && "$stack" != ceiling ]]; then
    mkdir -p "$results_dir/profiles"
    timeout $((secs + 30)) curl -sf -o "$results_dir/profiles/$stack-$route.pprof" "$BENCH_PROFILE_URL?seconds=$((secs > 3 ? secs - 2 : 1))" &
    profiler=$!
  fi
  timeout $((secs + 60)) wrk -t"$threads" -c"$conns" -d"$dur" --timeout 5s -s "$here/lua/$script" "$url" \
    -- "${args[@]}" "$final" >"$out" 2>&1
  if [[ -n "$profiler" ]]; then wait "$profiler" || log "no profile for $route"; fi
  local line
  line="$(grep '^BENCH ' "$out" || true)"
  if [[ -z "$line" ]]; then
    cat "$out" >&2
    log "wrk printed no result for $stack $route"
    return 1
  fi
  echo "stack=$stack route=$route ${line#BENCH }" >>"$results"
  log "$(printf '%-8s %-13s %s' "$stack" "$route" "$(awk '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      printf "%8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  errors %d", f["requests"] / (f["duration_us"] / 1e6), f["p50_us"] / 1000, f["p99_us"] / 1000, f["bad"] + f["sock"] + f["timeout"]
    }' <<<"$line")")"
}

read_routes=(feed_user feed_guest user_info publish_list favorite_list comment_list chat_poll)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -m | awk '/Mem:/ {printf "%.1f GB", $2/1024}') memory; wrk, server, MariaDB, Redis and RabbitMQ on the same machine"
  echo "versions: $(go version | cut -d' ' -f3), MariaDB $(sql 'SELECT VERSION()' -N), Redis $(redis-cli -u "redis://$redis_addr" info server | awk -F: '/redis_version/ {print $2}' | tr -d '\r'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "wrk: $threads threads, $conns connections, $dur per run after a $warm warm-up"
  echo "data set: ${sizes[*]}; $pool users logged in; $lines request targets per read route"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$work/meta.txt"

# --- full stack -------------------------------------------------------------
stack_env=("${full_env[@]}")
sql "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
log "seeding the full stack (MySQL $db)"
start=$(date +%s)
in_work "${full_env[@]}" "$tool" seed "${sizes[@]}" -workers 8 -out "$work/full-data.json" >&2
echo "seed (MySQL, 8 writers): $(($(date +%s) - start)) s" >>"$work/meta.txt"
start_server full "${full_env[@]}"
mkdir -p "$work/full"
in_work "${full_env[@]}" "$tool" prepare -base "$base" -data "$work/full-data.json" -dir "$work/full/req" -pool "$pool" -lines "$lines" >&2

# The ceiling replays the answers prepare captured. Each route runs on the
# ceiling right after the real server, so that both figures of a ratio are
# taken under the same load from the rest of the machine.
ceiling_port="$("$tool" freeport)"
(cd "$work" && exec "$tool" ceiling -addr "127.0.0.1:$ceiling_port" -capture "$work/full/req/capture.json") >"$work/ceiling.log" 2>&1 &
ceiling_pid=$!
pids+=("$ceiling_pid")
for _ in $(seq 1 60); do
  curl -s -o /dev/null "http://127.0.0.1:$ceiling_port/" && break
  sleep 0.5
done
full_routes=(${BENCH_ROUTES:-${read_routes[*]} like follow})
for r in "${full_routes[@]}"; do
  stack_env=("${full_env[@]}")
  drive full "$r" "$work/full/req" "$base"
  stack_env=()
  drive ceiling "$r" "$work/full/req" "http://127.0.0.1:$ceiling_port"
done
kill "$ceiling_pid"
stack_env=("${full_env[@]}")
sleep 2 # the delayed second deletes of the last writes
in_work "${full_env[@]}" "$tool" check -base "$base" -data "$work/full-data.json" -dir "$work/full/req" -out "$work/check-full.json" >&2 || true
stop_server full
rss_full=$peak_kib

# --- embedded default ---------------------------------------------------------
rss_emb=0
if [[ "${BENCH_EMBEDDED:-1}" != 0 ]]; then
  stack_env=("${emb_env[@]}")
  log "seeding the embedded default (SQLite)"
  start=$(date +%s)
  in_work "${emb_env[@]}" "$tool" seed "${sizes[@]}" -workers 2 -out "$work/emb-data.json" >&2
  echo "seed (SQLite, 2 writers): $(($(date +%s) - start)) s" >>"$work/meta.txt"
  start_server embedded "${emb_env[@]}"
  in_work "${emb_env[@]}" "$tool" prepare -base "$base" -data "$work/emb-data.json" -dir "$work/embedded/req" -pool "$pool" -lines "$lines" >&2
  for r in feed_user feed_guest user_info comment_list like; do
    drive embedded "$r" "$work/embedded/req" "$base"
  done
  in_work "${emb_env[@]}" "$tool" check -base "$base" -data "$work/emb-data.json" -dir "$work/embedded/req" -out "$work/check-embedded.json" >&2 || true
  stop_server embedded
  rss_emb=$peak_kib
fi

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/meta.txt"
cp "$results" "$results_dir/latest.txt"
report_args=(-results "$results" -sizes "$work/full/req/sizes.json" -check-full "$work/check-full.json"
  -rss-full "$rss_full" -rss-embedded "$rss_emb"
  -meta "$work/meta.txt" -out "$results_dir/latest.md")
if [[ "${BENCH_STRICT:-}" == 1 ]]; then report_args+=(-strict); fi
if [[ -f "$work/check-embedded.json" ]]; then report_args+=(-check-embedded "$work/check-embedded.json"); fi
echo
"$tool" report "${report_args[@]}"
